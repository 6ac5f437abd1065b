"""Real offline roundtables leave a manifest, telemetry and a digest that match docs/schemas/."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import (
    REPO,
    digest_file,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    start_cli,
    wait_for,
)
from tests.helpers.schemas import assert_valid

pytestmark = pytest.mark.e2e
GROUNDED = REPO / "examples" / "grounded" / "briefing.md"


def run_dir(workspace: Path, rt_id: str) -> Path:
    return workspace / "runs" / rt_id


def telemetry(workspace: Path, rt_id: str) -> list[dict]:
    lines = (run_dir(workspace, rt_id) / "telemetry.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def check_all_valid(workspace: Path, rt_id: str) -> tuple[dict, list[dict], dict]:
    manifest = json.loads((run_dir(workspace, rt_id) / "manifest.json").read_text(encoding="utf-8"))
    assert_valid("run_manifest", manifest)
    events = telemetry(workspace, rt_id)
    for event in events:
        assert_valid("telemetry_event", event)
        assert event["run_id"] == rt_id
    digest = digest_file(workspace, rt_id)
    assert_valid("digest", digest)
    return manifest, events, digest


def test_a_full_offline_roundtable_validates_everywhere(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    done = run_cli(roundtable_args("split the monolith?", "--max-rounds", "2", briefing=GROUNDED), rt_env(ws))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert_valid("digest", printed)
    rt_id = printed["rt_id"]
    manifest, events, digest = check_all_valid(ws, rt_id)

    assert manifest["status"] == "done" and manifest["run_id"] == rt_id and manifest["batch_id"] is None
    assert manifest["params"]["mode"] == "offline" and manifest["params"]["max_rounds"] == 2
    assert set(manifest["params"]["models"]) == {*digest["workers"], digest["judge"]}
    assert manifest["briefing"]["sha256"] and manifest["artefacts"]["digest"].endswith(f"digest-{rt_id}.json")
    assert isinstance(manifest["seed"], int)
    for stage in ("debate", "decision", "scoring", "settlement", "distillation", "debrief"):
        assert manifest["stages"][stage]["status"] == "ok", stage
        assert manifest["stages"][stage]["started_at"] <= manifest["stages"][stage]["ended_at"]
    assert digest["run_dir"] == str(run_dir(ws, rt_id))

    names = [e["event_name"] for e in events]
    starts = [e["payload"]["name"] for e in events if e["event_name"] == "stage_start"]
    stops = [e["payload"]["name"] for e in events if e["event_name"] == "stage_stop"]
    # the decision is written first after the debate (a cut debate needs it most), then the steps
    assert starts == ["debate", "decision", "scoring", "settlement", "distillation", "debrief"] and starts == stops
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    # one llm_call per recorded call, one turn event per turn row, nothing missing or doubled
    calls = rows(ws, "SELECT id FROM llm_calls WHERE rt_id = ? ORDER BY id", rt_id)
    assert [e["payload"]["call_id"] for e in events if e["event_name"] == "llm_call"] == [c["id"] for c in calls]
    turns = rows(ws, "SELECT id FROM turns WHERE rt_id = ? ORDER BY id", rt_id)
    assert sorted(e["payload"]["turn_id"] for e in events if e["event_name"] == "turn") == [t["id"] for t in turns]
    assert "metric" in names
    roles_after_debate = {e["payload"]["role"] for e in events
                          if e["event_name"] == "llm_call" and e["stage"] in ("scoring", "distillation", "debrief")}
    assert {"score", "distill"} <= roles_after_debate


def test_a_cut_roundtable_records_where_it_stopped(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = start_cli(roundtable_args("split the monolith?", "--max-rounds", "3"),
                     rt_env(ws, AMATELIER_OFFLINE_DELAY_MS="200"))
    try:
        (first,) = wait_for(lambda: rows(ws, "SELECT rt_id FROM messages WHERE kind = 'speech' LIMIT 1"),
                            60, "a first speech")
        live = json.loads((run_dir(ws, first["rt_id"]) / "manifest.json").read_text(encoding="utf-8"))
        assert live["status"] == "running" and live["stages"]["debate"]["status"] == "running"
        assert_valid("run_manifest", live)                  # written at start, whole at every moment
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    rt_id = json.loads(out)["rt_id"]
    manifest, events, digest = check_all_valid(ws, rt_id)
    assert manifest["status"] == "cut" and digest["status"] == "cut"
    assert manifest["stages"]["debate"]["status"] == "error" and manifest["stages"]["debate"]["error"]
    assert all(manifest["stages"][s]["status"] == "skipped" for s in ("scoring", "settlement", "debrief"))
    assert any(e["event_name"] == "stage_error" and e["payload"]["name"] == "debate" for e in events)


def test_skip_post_and_batch_id_are_recorded(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    done = run_cli(roundtable_args("split?", "--workers", "elena,marcus", "--max-rounds", "1", "--skip-post"),
                   rt_env(ws, AMATELIER_BATCH_ID="batch-1732700000000-abcdefghi", AMATELIER_SEED="7"))
    assert done.returncode == 0, done.stderr
    rt_id = json.loads(done.stdout)["rt_id"]
    manifest, _, digest = check_all_valid(ws, rt_id)
    assert manifest["batch_id"] == "batch-1732700000000-abcdefghi" == digest["batch_id"]
    assert manifest["seed"] == 7 and manifest["params"]["skip_post"] is True
    assert manifest["stages"]["debrief"]["status"] == "skipped"


def test_an_unwritable_runs_dir_costs_a_warning_not_the_roundtable(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "runs").write_text("not a directory", encoding="utf-8")
    done = run_cli(roundtable_args("split?", "--workers", "elena", "--max-rounds", "1", "--skip-post"), rt_env(ws))
    assert done.returncode == 0, done.stderr
    digest = json.loads(done.stdout)
    assert_valid("digest", digest)
    assert "manifest" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("cannot write the run manifest") == 1


def test_without_otel_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "amatelier",
                           *roundtable_args("split?", "--workers", "elena", "--max-rounds", "1", "--skip-post")],
                          env=rt_env(tmp_path / "ws"), capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert done.returncode == 0, done.stderr[-2000:]
    imported = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert any("amatelier.telemetry" in line for line in imported)    # telemetry itself ran
    assert not [line for line in imported if "opentelemetry" in line]


def test_the_rt_id_option_refuses_unsafe_and_taken_ids(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first = run_cli(roundtable_args("split?", "--workers", "elena", "--max-rounds", "1", "--skip-post",
                                    "--rt-id", "job-0001"), rt_env(ws))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["rt_id"] == "job-0001" and (run_dir(ws, "job-0001") / "manifest.json").exists()
    for bad, words in (("job-0001", "already exists"), ("../../etc", "must be 1-64 letters")):
        again = run_cli(roundtable_args("split?", "--workers", "elena", "--rt-id", bad), rt_env(ws))
        assert again.returncode == 2 and words in again.stderr and "Traceback" not in again.stderr
    assert not (ws / "etc").exists()


def test_the_recorded_seed_replays_the_speaking_order(tmp_path: Path) -> None:
    orders = []
    for run in range(3):
        ws = tmp_path / f"ws{run}"
        seed = "13" if run < 2 else "12"
        done = run_cli(roundtable_args("split?", "--workers", "elena,marcus,clare,simon", "--max-rounds", "1",
                                       "--skip-post"), rt_env(ws, AMATELIER_SEED=seed))
        assert done.returncode == 0, done.stderr
        rt_id = json.loads(done.stdout)["rt_id"]
        (line,) = rows(ws, "SELECT content FROM messages WHERE rt_id = ? AND content LIKE 'SPEAKING ORDER:%'", rt_id)
        orders.append(line["content"])
        assert json.loads((run_dir(ws, rt_id) / "manifest.json").read_text(encoding="utf-8"))["seed"] == int(seed)
    assert orders[0] == orders[1]                   # same seed, same order
    assert orders[2] != orders[0]                   # these two seeds shuffle the four differently


def test_a_resumed_run_keeps_its_manifest_and_continues_its_telemetry(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = start_cli(roundtable_args("split?", "--workers", "elena,marcus", "--max-rounds", "3", "--skip-post"),
                     rt_env(ws, AMATELIER_OFFLINE_DELAY_MS="150", AMATELIER_SEED="5"))
    try:
        wait_for(lambda: rows(ws, "SELECT 1 FROM turns WHERE round = 2 AND status = 'done'"), 90, "round 2")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    (rt,) = rows(ws, "SELECT id FROM roundtables")
    rt_id = rt["id"]
    before = json.loads((run_dir(ws, rt_id) / "manifest.json").read_text(encoding="utf-8"))
    assert before["status"] == "running"                 # the killed runner never finished it
    lines_before = len(telemetry(ws, rt_id))
    done = run_cli(["roundtable", "--resume", rt_id], rt_env(ws), timeout=240)
    assert done.returncode == 0, done.stderr
    manifest, events, _ = check_all_valid(ws, rt_id)
    assert manifest["status"] == "done" and manifest["stages"]["debate"]["status"] == "ok"
    assert (manifest["created_at"], manifest["seed"]) == (before["created_at"], 5)
    assert len(events) > lines_before                     # appended, not started over
    turn_ids = [e["payload"]["turn_id"] for e in events if e["event_name"] == "turn"]
    assert len(turn_ids) == len(set(turn_ids))            # no turn recorded twice across the two runners
    call_ids = [e["payload"]["call_id"] for e in events if e["event_name"] == "llm_call"]
    assert sorted(call_ids) == [c["id"] for c in rows(ws, "SELECT id FROM llm_calls WHERE rt_id = ? ORDER BY id",
                                                       rt_id)]                # each call once


def test_a_benchmark_run_records_its_batch_everywhere(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    batch = "batch-1732700000000-abcdefghi"
    done = run_cli(roundtable_args("split?", "--workers", "elena,marcus", "--max-rounds", "1", "--benchmark",
                                   "--batch-id", batch, "--batch-run", "case-1#1"), rt_env(ws))
    assert done.returncode == 0, done.stderr
    rt_id = json.loads(done.stdout)["rt_id"]
    manifest, events, digest = check_all_valid(ws, rt_id)
    assert manifest["batch_id"] == batch == digest["batch_id"] == digest["benchmark"]["batch_id"]
    assert manifest["stages"]["scoring"]["status"] == "ok"
    assert any(e["event_name"] == "llm_call" and e["payload"]["role"] == "score" and e["stage"] == "scoring"
               for e in events)
