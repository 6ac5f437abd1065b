"""Answers a cooperative model would give, chosen from the request's content.

The fake provider servers (tests/helpers/fake_llm_servers.py) echo the prompt by default,
which the runner cannot use for a gate decision, a score or a skill list. `answer_text()`
reads what kind of request it is (a debate turn by its PHASE marker, post-roundtable
scoring, distillation, the distill gate) and writes text the engine accepts. The
`*_reply` functions wrap it in each provider's protocol and keep the fakes' usage
accounting (e.g. FakeAnthropic's prompt-cache emulation). Pass `fail_agent` to make every
debate turn of one agent answer HTTP 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    FakeGemini,
    RecordedRequest,
    Reply,
    gemini_response,
)


def _marker(prompt: str, key: str, default: str = "") -> str:
    match = re.search(rf"^{re.escape(key)}: (.+)$", prompt, re.M)
    return match.group(1).strip() if match else default


def _workers(prompt: str) -> list[str]:
    return [w.strip() for w in _marker(prompt, "WORKERS").split(",") if w.strip()]


def turn_text(prompt: str) -> str:
    """A debate turn: speech, rebuttal, floor (contribute once, then PASS) or gate answer."""
    agent = _marker(prompt, "AGENT", "someone")
    phase = _marker(prompt, "PHASE", "SPEAK")
    round_no = int(_marker(prompt, "ROUND", "1") or 1)
    others = [p.strip() for p in _marker(prompt, "PARTICIPANTS").split(",")
              if p.strip() and p.strip() not in (agent, "judge")]
    peer = others[0] if others else "the table"
    if phase == "GATE":
        if round_no >= 2:
            return f"CONVERGED: positions settled in round {round_no}"
        return f"CONTINUE: round {round_no} left the cost question open\nGATE: {peer} — named the real constraint"
    asked = bool(_marker(prompt, "FLOOR INTENT"))  # the runner asks for a `FLOOR: yes|no` line
    position = "\nPOSITION: split along the data boundary first | CONFIDENCE: 70 | MOVED BY: none"
    if phase == "FLOOR":
        if _marker(prompt, "FLOOR TURN", "1") == "1":
            return (f"{agent} on the floor: {peer}, the rollback plan needs an owner and a date."
                    + ("\nFLOOR: no" if asked else "") + position)
        return "PASS"
    if phase == "REBUTTAL":
        return (f"{peer}, your point holds only if the shared schema stays frozen; {agent} disagrees."
                + ("\nFLOOR: yes" if asked else "") + position)
    return (f"{agent} speaks in round {round_no}: split along the data boundary first, "
            f"because the briefing prefers reversible steps; {peer} may disagree." + position)


def scores_json(workers: list[str]) -> str:
    """A valid Judge scoring answer for `workers` (every axis on the 0/1/2/3/10 scale)."""
    return json.dumps({"scores": {w: {"novelty": 1, "accuracy": 2, "impact": 1, "challenge": 1,
                                      "reason": f"{w} made a grounded, ordinary contribution.",
                                      "penalties": [], "grand_insight": None} for w in workers}})


def skills_json(workers: list[str]) -> str:
    """Two valid distilled skills (a CAPTURE by the first worker and a team DERIVE)."""
    first = workers[0] if workers else "team"
    base = {"structural_category": "sequencing", "trigger_phase": "speak", "primary_actor": "single-agent",
            "problem_nature": "technical", "tags": ["migration", "reversibility"]}
    return json.dumps([
        dict(base, title="Split along the data boundary first", type="CAPTURE", agent=first,
             pattern="Before proposing a service split, locate the shared tables and cut along the data "
                     "ownership boundary, so each step can be reversed on its own.",
             when_to_apply="when a monolith shares one database across teams",
             agent_dynamic=None, one_liner="Cut where the data ownership already divides."),
        dict(base, title="Name an owner for every rollback", type="DERIVE", agent="team",
             primary_actor="team",
             pattern="Combine the challenger's failure case with the sequencer's steps: every migration "
                     "step gets a named owner and a dated rollback before it ships.",
             when_to_apply="when a plan lists steps but nobody owns undoing them",
             agent_dynamic="the challenge exposed a gap that the sequencing then closed",
             one_liner="Every step ships with an owner and a dated rollback."),
    ])


def answer_text(system: str, prompt: str) -> str:
    """What a cooperative model answers to this request."""
    start = prompt.find("AMATELIER TURN")  # a client may put its own text before the prompt
    if start >= 0:
        return turn_text(prompt[start:])
    start = prompt.find("AMATELIER DECISION")
    if start >= 0:  # the chair: a valid record citing the prompt's own message ids
        from amatelier.offline.decision import build_record

        return json.dumps(build_record(prompt[start:]))
    if "POST-ROUNDTABLE SCORING" in prompt or "SCORE REPAIR" in prompt:
        return scores_json(_workers(prompt))
    if "MIN_SKILLS:" in prompt and "TRANSCRIPT:" in prompt:
        return skills_json(_workers(prompt))
    if "CANDIDATES:" in prompt and "Review each candidate" in prompt:
        count = len(re.findall(r'"index":', prompt))
        return json.dumps([{"index": i, "verdict": "pass", "reason": "specific"} for i in range(count)])
    return "noted."


def _anthropic_system(body: dict[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, list):
        return "".join(b.get("text", "") for b in system if isinstance(b, dict))
    return str(system or "")


def turn_agent(request: RecordedRequest) -> str | None:
    """The AGENT marker of a debate-turn request (None for other requests)."""
    text = request.user_text()
    return (_marker(text, "AGENT") or None) if "AMATELIER TURN" in text else None


def anthropic_reply(server: FakeAnthropic, *, fail_agent: str | None = None) -> Callable[[RecordedRequest], Reply]:
    """A `server.default` for FakeAnthropic: scripted text, the fake's own usage and cache counts."""

    def answer(request: RecordedRequest) -> Reply:
        if fail_agent and turn_agent(request) == fail_agent:
            return Reply.error(500)
        reply = server.default_reply(request)
        body = reply.body
        if request.path == "/v1/messages" and isinstance(body, dict) and body.get("type") == "message":
            text = answer_text(_anthropic_system(request.json or {}), request.user_text())
            body["content"] = [{"type": "text", "text": text}]
            body["usage"]["output_tokens"] = max(1, len(text) // 4)
        return reply

    return answer


def gemini_reply(server: FakeGemini) -> Callable[[RecordedRequest], Reply]:
    """A `server.default` for FakeGemini: scripted text with usage."""

    def answer(request: RecordedRequest) -> Reply:
        if not server.handles(request):
            return server.default_reply(request)
        body = request.json or {}
        system = "".join(p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", []))
        text = answer_text(system, request.user_text())
        return Reply.json(gemini_response(text, model=server.model_of(request),
                                          prompt_tokens=max(1, len(request.user_text()) // 4)))

    return answer
