"""The Judge's prompts as a real provider receives them: one roundtable through the openai-compat
backend (the real openai SDK) against a fake Chat Completions server that records every request.

Must show (issue 13): the gate call's system and task prompts contain no instruction to reply
with JSON scores, and the scoring call carries the rubric exactly once; the gate's JSON verdict
reaches the transcript as readable lines.
"""

from __future__ import annotations

import json
import re

import pytest
from tests.helpers.fake_llm_servers import FakeOpenAI, Reply, openai_chat_completion
from tests.helpers.roundtable_run import roundtable_args, rows, rt_env, run_cli, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.wire]
AXES = ("novelty", "accuracy", "impact", "challenge")


def _messages(request) -> tuple[str, str]:
    body = request.json or {}
    system = "\n".join(m["content"] for m in body.get("messages", []) if m.get("role") == "system")
    return system, request.user_text()


def _answer(request):
    """A cooperative model: JSON verdict at the gate, valid scores when scoring, prose otherwise."""
    _, prompt = _messages(request)
    if prompt.startswith("POST-ROUNDTABLE SCORING"):
        workers = [w.strip() for w in re.search(r"^WORKERS: (.*)$", prompt, re.M).group(1).split(",")]
        text = json.dumps({"scores": {w: {**dict.fromkeys(AXES, 1), "reason": "solid", "penalties": [],
                                          "grand_insight": None} for w in workers}})
    elif re.search(r"^PHASE: GATE$", prompt, re.M):
        round_no = int(re.search(r"^ROUND: (\d+)$", prompt, re.M).group(1))
        verdict = "CONVERGED" if round_no >= 2 else "CONTINUE"
        text = "Here is my verdict.\n```json\n" + json.dumps(
            {"verdict": verdict, "reason": f"round {round_no} judged",
             "gates": [{"agent": "elena", "reason": "cited the briefing"}] if round_no == 1 else []}) + "\n```"
    elif re.search(r"^PHASE: FLOOR$", prompt, re.M):
        text = "PASS"
    else:
        text = "A worker's contribution through the fake server."
    return Reply.json(openai_chat_completion(text, model=(request.json or {}).get("model", "?")))


def test_gate_and_scoring_prompts_as_sent(tmp_path, monkeypatch) -> None:
    with FakeOpenAI() as server:
        server.default = _answer
        write_config(tmp_path, {"llm": {"mode": "openai-compat", "openai_compat": {
            "base_url": server.base_url, "api_key_env": "RT_FAKE_KEY"}},
            "judging": {"swap_audit_share": 0.0}})                   # one scoring call, never a sampled swap
        env = rt_env(tmp_path, AMATELIER_MODE="openai-compat", RT_FAKE_KEY="sk-fake")
        result = run_cli(roundtable_args("wire", "--workers", "elena,clare", "--max-rounds", "3", "--skip-post"),
                         env)
        assert result.returncode == 0, result.stderr
        digest = json.loads(result.stdout)
        requests = [_messages(r) for r in server.api_requests()]

    gates = [(s, p) for s, p in requests if re.search(r"^PHASE: GATE$", p, re.M)]
    scoring = [(s, p) for s, p in requests if p.startswith("POST-ROUNDTABLE SCORING")]
    assert len(gates) == 2 and len(scoring) == 1

    for system, prompt in gates:
        both = system + prompt
        assert '"scores"' not in both and "SCORING RUBRIC" not in both and "novelty" not in both
        assert "Reply with one JSON object" not in system and "JSON" not in system
        assert '"verdict"' in prompt
        participants = re.search(r"^PARTICIPANTS: (.*)$", prompt, re.M).group(1)
        assert participants.split(", ") == ["elena", "clare"]          # the judge is not a debater

    system, prompt = scoring[0]
    assert (system + prompt).count("SCORING RUBRIC") == 1
    assert (system + prompt).count("- novelty:") == 1
    assert "JSON" not in system and "CONVERGED" not in system
    assert gates[0][0] == system                                         # one persona for every task

    judge_lines = [r["content"] for r in rows(tmp_path, "SELECT content FROM messages WHERE kind = 'judge'"
                                                         " ORDER BY id")]
    assert judge_lines == ["CONTINUE: round 1 judged\nGATE: elena — cited the briefing", "CONVERGED: round 2 judged"]
    assert digest["converged"] and digest["rounds"] == 2
    assert [(g["agent"], g["status"], g["sparks"]) for g in digest["gates"]] == [("elena", "awarded", 3)]
    assert digest["judging"]["seats"][0]["order"] in (["elena", "clare"], ["clare", "elena"])
    assert all(digest["scores"][w]["total"] == 4 for w in ("elena", "clare"))
