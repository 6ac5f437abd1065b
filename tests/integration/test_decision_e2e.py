"""A real offline roundtable ends with a cited decision record; so does one cut by Ctrl-C."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from jsonschema import Draft202012Validator
from tests.helpers.roundtable_run import (
    digest_file,
    messages,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    start_cli,
    wait_for,
)

from amatelier.debate.decision_check import cited_ids, load_schema

POSITION_PHASES = ("SPEAK", "REBUTTAL", "FLOOR")


def _assert_cited_record(decision: dict, workspace, rt_id: str) -> None:
    Draft202012Validator(load_schema()).validate(decision)
    ids = {m["id"] for m in messages(workspace, rt_id)}
    cited = [cite for _, cite in cited_ids(decision)]
    assert cited and set(cited) <= ids


def test_offline_roundtable_digest_has_a_valid_cited_decision_and_positions(tmp_path):
    result = run_cli(roundtable_args("split the monolith?", "--max-rounds", "3", "--skip-post"), rt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    rt_id = digest["rt_id"]
    decision = digest["decision"]
    _assert_cited_record(decision, tmp_path, rt_id)
    assert len(decision["arguments"]) >= 2
    assert decision["synthesized"] is True and decision["partial"] is False
    assert decision["stop_reason"] in ("converged", "round limit")
    assert decision["chair"]["agent"] == "opus-admin"
    # One position row per answered worker turn (a floor PASS is not one).
    turns = [m for m in messages(tmp_path, rt_id) if m["kind"] == "speech" and m["phase"] in POSITION_PHASES
             and not m["content"].strip().upper().startswith("PASS")]
    stored = rows(tmp_path, "SELECT message_id, missing FROM positions WHERE rt_id = ? ORDER BY message_id", rt_id)
    assert [r["message_id"] for r in stored] == [m["id"] for m in turns]
    assert digest["positions_missing"] == sum(r["missing"] for r in stored) == 0
    assert digest["position_changes"], "offline agents change position at least once"
    change = digest["position_changes"][0]
    assert change["moved_by"] and change["moved_by_message"] in {m["id"] for m in turns}
    assert digest["positions"]["edges"]
    # The record is stored per roundtable, and it is the digest's.
    stored_record = rows(tmp_path, "SELECT record FROM decisions WHERE rt_id = ?", rt_id)
    assert json.loads(stored_record[0]["record"]) == decision
    assert digest_file(tmp_path, rt_id)["decision"] == decision
    calls = rows(tmp_path, "SELECT agent, role FROM llm_calls WHERE rt_id = ? AND role LIKE 'decision%'", rt_id)
    assert calls == [{"agent": "opus-admin", "role": "decision"}]
    # The digest contract describes every key the decision step adds.
    from tests.helpers.schemas import errors

    assert errors("digest", digest) == []
    # ... and the page a person reads was written next to it.
    page = digest["export"]
    assert page.endswith(f"export-{rt_id}.html")
    html = Path(page).read_text(encoding="utf-8")
    assert "<svg" in html and f'id="msg-{change["moved_by_message"]}"' in html


def test_summary_and_latest_result_open_with_the_decision(tmp_path):
    result = run_cli(roundtable_args("split the monolith?", "--workers", "elena,marcus,clare", "--summary"),
                     rt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.strip().split("\n\n")
    assert blocks[0].startswith("TOPIC: split the monolith?")
    decision = blocks[1].splitlines()
    assert decision[0].startswith("RECOMMENDATION: ")
    assert decision[1].startswith("OUTCOME: ") and "CONFIDENCE: " in decision[1]
    for heading in ("WHY:", "DISSENT", "WHO MOVED", "OPEN QUESTIONS"):
        assert any(line.startswith(heading) for line in decision), heading
    text = result.stdout
    assert text.index("RECOMMENDATION") < text.index("ROUNDS:") < text.index("ECONOMY\nSCORES:")
    latest = (tmp_path / "roundtable-server" / "latest-result.md").read_text(encoding="utf-8")
    assert latest.index("RECOMMENDATION:") < latest.index("ROUNDS:") < latest.index("ECONOMY")


def test_a_roundtable_cut_by_ctrl_c_after_round_one_still_has_a_partial_decision(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="120")
    proc = start_cli(roundtable_args("cut me", "--workers", "elena,marcus,clare", "--max-rounds", "4"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM messages WHERE kind = 'phase' AND content LIKE 'ROUND 2:%'"),
                 timeout=120, what="round 2 to begin")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "writing the decision from what was said (Ctrl-C again to skip)" in err
    assert "Traceback" not in err
    digest = json.loads(out)
    assert digest["cut_reason"] == "keyboard interrupt"
    decision = digest["decision"]
    assert decision["partial"] is True and decision["stop_reason"] == "keyboard interrupt"
    _assert_cited_record(decision, tmp_path, digest["rt_id"])
    assert rows(tmp_path, "SELECT partial, stop_reason FROM decisions") == [
        {"partial": 1, "stop_reason": "keyboard interrupt"}]


def test_a_second_ctrl_c_skips_the_chair_and_still_writes_a_record(tmp_path):
    import threading

    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="1500")  # the chair's call takes 1.5 s
    proc = start_cli(roundtable_args("cut me twice", "--workers", "elena", "--max-rounds", "2"), env)
    lines: list[str] = []
    noted = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "Ctrl-C again to skip" in line:
                noted.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM messages WHERE kind = 'phase' AND content LIKE 'ROUND 1:%'"),
                 timeout=60, what="round 1 to begin")
        proc.send_signal(signal.SIGINT)
        assert noted.wait(60), "".join(lines)
        proc.send_signal(signal.SIGINT)  # while the chair writes
        out = proc.stdout.read()
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, "".join(lines)
    assert "Traceback" not in "".join(lines)
    decision = json.loads(out)["decision"]
    assert decision["synthesized"] is False and decision["chair"]["interrupted"] is True
    assert decision["partial"] is True and decision["stop_reason"] == "keyboard interrupt"
    Draft202012Validator(load_schema()).validate(decision)
