"""Benchmark batches end to end: real `amatelier batch` subprocesses, real runners and workers, offline.

The must-show runs: the starter suite compared seed vs current changes no agent state; a
batch killed with SIGKILL midway is finished by `batch resume` running only what was missing;
snapshots minted from the batch are numbered, valid and recompute from their runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import AMATELIER, REPO, rows, rt_env, run_cli, wait_for

from amatelier.benchmarks import stats

pytestmark = pytest.mark.e2e

STARTER = REPO / "examples" / "suites" / "starter"
BATCH_ID = re.compile(r"batch-\d{13}-[0-9a-z]{9}")


def agents_state(workspace: Path) -> dict[str, str]:
    """sha256 of every visible file under agents/ (lock files are hidden and not state)."""
    root = workspace / "agents"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def batch_id_of(stderr: str) -> str:
    match = BATCH_ID.search(stderr)
    assert match, stderr
    return match.group(0)


def run_records(workspace: Path, batch_id: str) -> dict[str, dict]:
    found = {}
    for path in (workspace / "batches" / batch_id / "runs").glob("*.json"):
        if path.name.endswith(".transcript.json"):
            continue
        try:
            found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
    return found


def test_starter_batch_compares_seed_and_current_without_touching_agent_state(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = rt_env(workspace)
    assert run_cli(["config"], env).returncode == 0  # bootstrap the workspace first
    before = agents_state(workspace)

    done = run_cli(["batch", "run", str(STARTER), "--repeats", "1", "--parallel", "2",
                    "--compare", "seed,current"], env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    batch_id = batch_id_of(done.stderr.splitlines()[0])
    assert re.fullmatch(r"^batch-\d{13}-[0-9a-z]{9}$", batch_id)
    for case in ("event-bus", "postgres-vs-dynamo", "trunk-based", "incident-rotation", "first-sre-hire",
                 "free-tier"):
        assert re.search(rf"{case}\s+│\s+\w+\s+│\s+\d\.\d{{3}} \(1/1\)\s+│\s+\d\.\d{{3}} \(1/1\)", done.stdout), case
    assert "12/12 done, 0 failed" in done.stdout and "bootstrap interval" in done.stdout

    # judged, recorded on the roundtable, and nothing settled or learned
    benchmark_rts = rows(workspace, "SELECT id, status, persona_set FROM roundtables WHERE batch_id = ?", batch_id)
    assert len(benchmark_rts) == 12 and {r["status"] for r in benchmark_rts} == {"closed"}
    assert sorted(r["persona_set"] for r in benchmark_rts).count("seed") == 6
    assert rows(workspace, "SELECT * FROM spark_ledger") == []
    assert rows(workspace, "SELECT * FROM scores") == []
    assert not list((workspace / "agents").glob("*/sessions/*"))
    assert not (workspace / "roundtable-server" / "latest-result.md").exists()
    assert agents_state(workspace) == before
    digest = json.loads(next((workspace / "batches" / batch_id / "runs").glob("*.out")).read_text())
    assert digest["benchmark"]["batch_id"] == batch_id and "sparks_earned" not in digest
    assert all("total" in s for s in digest["scores"].values())

    shown = json.loads(run_cli(["batch", "show", batch_id, "--json"], env).stdout)
    assert shown["status"] == "complete" and shown["counts"]["done"] == 12
    assert shown["comparison"]["baseline_runs"] == shown["comparison"]["specialist_runs"] == 6

    # snapshots from the batch: numbered, valid, their comparison recomputes from their runs
    paths = []
    for expected in ("snapshot-001.json", "snapshot-002.json"):
        minted = run_cli(["snapshot", "mint", "elena", "--batch", batch_id, "--json"], env)
        assert minted.returncode == 0, minted.stderr
        path = Path(json.loads(minted.stdout)["path"])
        assert path.name == expected
        paths.append(path)
    from amatelier.benchmarks.snapshots import schema_problems

    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert schema_problems(doc) == []
        runs = doc["benchmarks"]["runs"]
        assert len(runs) == 12 and {r["batch_id"] for r in runs} == {batch_id}
        assert {r["run_id"] for r in runs} == {r["id"] for r in benchmark_rts}
        stored = {k: v for k, v in doc["benchmarks"]["comparison"].items() if k != "statement"}
        assert stored == stats.compare(runs)
    assert agents_state(workspace) == before  # minting reads only


def live_runners(batch_id: str) -> list[int]:
    """Pids of processes whose command line names this batch (runners left by a killed driver)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if batch_id.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_a_killed_batch_resumes_running_only_the_missing_runs(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = rt_env(workspace, AMATELIER_OFFLINE_DELAY_MS="40")
    driver = subprocess.Popen([*AMATELIER, "batch", "run", str(STARTER), "--parallel", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    try:
        batch_dir = wait_for(lambda: next((workspace / "batches").glob("batch-*"), None), 60, "batch folder")
        batch_id = batch_dir.name
        wait_for(lambda: sum(r.get("status") == "done" for r in run_records(workspace, batch_id).values()) >= 2,
                 120, "two finished runs")
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(10)
    before = run_records(workspace, batch_id)
    finished_before = {k: r for k, r in before.items() if r["status"] == "done"}
    assert 2 <= len(finished_before) < 6, "the kill must land midway"

    listed = json.loads(run_cli(["batch", "list", "--json"], env).stdout)
    assert [(b["batch_id"], b["status"]) for b in listed] == [(batch_id, "interrupted")]

    resumed = run_cli(["batch", "resume", batch_id, "--json"], env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "complete" and summary["counts"]["done"] == 6
    drive = summary["this_drive"]
    assert set(drive["skipped"]) == set(finished_before)
    assert not set(drive["started"]) & set(finished_before)
    assert set(drive["started"]) | set(drive["adopted"]) | set(drive["skipped"]) == {
        f"{case}.current.1" for case in ("event-bus", "postgres-vs-dynamo", "trunk-based", "incident-rotation",
                                         "first-sre-hire", "free-tier")}
    after = run_records(workspace, batch_id)
    for key, record in finished_before.items():
        assert after[key] == record  # untouched: same roundtable, same result
    # every run that counts is a closed benchmark roundtable of this batch; nothing is left running
    counted = {r["rt_id"] for r in after.values()}
    closed = {r["id"] for r in rows(workspace, "SELECT id FROM roundtables WHERE batch_id = ? AND status = 'closed'",
                                    batch_id)}
    assert counted <= closed
    assert wait_for(lambda: not live_runners(batch_id), 30, "no runner left")


def test_batch_errors_are_one_line(tmp_path: Path) -> None:
    env = rt_env(tmp_path / "ws")
    cases = [
        (["batch", "run", str(tmp_path / "nowhere")], "suite not found"),
        (["batch", "run", str(STARTER), "--compare", "seed"], "two different persona sets"),
        (["batch", "run", str(STARTER), "--workers", "elena,bob"], "unknown worker 'bob'"),
        (["batch", "run", str(STARTER), "--parallel", "0"], "--parallel must be between"),
        (["batch", "resume", "batch-1764000000000-aaaaaaaaa"], "no batch batch-1764000000000-aaaaaaaaa"),
        (["batch", "show", "../../etc"], "not a batch id"),
    ]
    for args, words in cases:
        result = run_cli(args, env)
        assert result.returncode == 2 and result.stderr.startswith("amatelier: error: "), (args, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr
        as_json = run_cli([*args, "--json"], env)
        assert json.loads(as_json.stderr) == {"error": result.stderr.strip()[len("amatelier: error: "):], "code": 2}
    assert not (tmp_path / "ws" / "batches").exists() or not any((tmp_path / "ws" / "batches").iterdir())


def test_ray_engine_finishes_the_same_runs_as_the_local_engine(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    suite = tmp_path / "suite"
    (suite / "briefings").mkdir(parents=True)
    cases = []
    for case in ("event-bus", "free-tier"):
        (suite / "briefings" / f"{case}.md").write_text(
            (STARTER / "briefings" / f"{case}.md").read_text(encoding="utf-8"), encoding="utf-8")
        cases.append({"id": case, "topic": f"{case}?", "briefing": f"briefings/{case}.md", "rounds": 1,
                      "workers": ["elena", "marcus"]})
    (suite / "suite.json").write_text(json.dumps({"name": "two", "version": "1", "cases": cases}), encoding="utf-8")
    finished = {}
    for engine in ("local", "ray"):
        workspace = tmp_path / f"ws-{engine}"
        env = rt_env(workspace)
        env.pop("RAY_ADDRESS", None)
        result = run_cli(["batch", "run", str(suite), "--engine", engine, "--parallel", "2",
                          "--compare", "seed,current", "--json"], env, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads(result.stdout)
        finished[engine] = {(row["case"], row["persona_set"], row["done"]) for row in summary["cases"]}
        records = run_records(workspace, summary["batch_id"])
        assert {r["engine"] for r in records.values()} == {engine}
        assert all(r["result"]["agents"]["elena"]["scored"] for r in records.values())
        # local or remote, the user's workspace records every roundtable of the batch and its calls
        rts = rows(workspace, "SELECT id, status FROM roundtables WHERE batch_id = ?", summary["batch_id"])
        assert {r["id"] for r in rts} == {r["rt_id"] for r in records.values()}
        assert {r["status"] for r in rts} == {"closed"}
        calls = rows(workspace, "SELECT COUNT(*) AS n FROM llm_calls WHERE rt_id IN (SELECT id FROM roundtables"
                                " WHERE batch_id = ?)", summary["batch_id"])
        assert calls[0]["n"] > 0
        for record in records.values():
            assert (workspace / "roundtable-server" / f"digest-{record['rt_id']}.json").is_file()
            if engine == "ray":
                transcript = json.loads((workspace / "batches" / summary["batch_id"] / "runs"
                                         / f"{record['key']}.transcript.json").read_text())
                assert any(m["kind"] == "briefing" for m in transcript)
    assert finished["ray"] == finished["local"] == {(c, s, 1) for c in ("event-bus", "free-tier")
                                                   for s in ("seed", "current")}


def test_ctrl_c_stops_the_runners_and_resume_finishes(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = rt_env(workspace, AMATELIER_OFFLINE_DELAY_MS="150")  # each model call takes 150 ms
    suite = tmp_path / "suite"
    (suite / "briefings").mkdir(parents=True)
    (suite / "briefings" / "b.md").write_text((STARTER / "briefings" / "free-tier.md").read_text(), encoding="utf-8")
    cases = [{"id": f"c{i}", "topic": f"free tier {i}?", "briefing": "briefings/b.md", "rounds": 1,
              "workers": ["elena", "marcus"]} for i in range(4)]
    (suite / "suite.json").write_text(json.dumps({"name": "four", "version": "1", "cases": cases}), encoding="utf-8")
    driver = subprocess.Popen([*AMATELIER, "batch", "run", str(suite), "--parallel", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    batch_dir = wait_for(lambda: next((workspace / "batches").glob("batch-*"), None), 60, "batch folder")
    wait_for(lambda: rows(workspace, "SELECT id FROM roundtables WHERE batch_id = ? AND status = 'open'",
                          batch_dir.name), 60, "a roundtable in flight")
    os.kill(driver.pid, signal.SIGINT)
    _, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 130, stderr
    assert f"amatelier batch resume {batch_dir.name}" in stderr and "Traceback" not in stderr
    assert wait_for(lambda: not live_runners(batch_dir.name), 30, "runners stopped")
    # a runner in flight was stopped: it cut its roundtable, or (killed after the grace period on a
    # loaded machine) left it open for the next command to cut; none of them finished it
    stopped = rows(workspace, "SELECT id FROM roundtables WHERE batch_id = ? AND status IN ('cut', 'open')",
                   batch_dir.name)
    assert stopped, "the roundtable in flight was stopped, not finished"
    refused = run_cli(["roundtable", "--resume", stopped[0]["id"]], env)
    assert refused.returncode == 2 and "is a benchmark run" in refused.stderr
    resumed = run_cli(["batch", "resume", batch_dir.name, "--json"], env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["counts"]["done"] == 4


def test_an_unwritable_batches_folder_is_one_line(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = rt_env(workspace)
    assert run_cli(["config"], env).returncode == 0
    (workspace / "batches").write_text("not a folder", encoding="utf-8")  # blocks it even for root
    result = run_cli(["batch", "run", str(STARTER), "--json"], env)
    assert result.returncode == 2 and result.stdout == ""
    error = json.loads(result.stderr)
    assert error["code"] == 2 and "batches" in error["error"]
    assert (workspace / "batches").read_text(encoding="utf-8") == "not a folder"
