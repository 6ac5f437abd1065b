"""A small real roundtable in a real database, for the decision and export tests.

Three workers over two rounds; each speech ends with a POSITION line; in round 2 marcus moves
to clare's stance and credits her round-1 message, simon (when present) forgets the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from amatelier.chat import messages as msgs
from amatelier.chat import roundtables
from amatelier.chat.db import open_db
from amatelier.debate.positions import record_turn_position

WORKERS = ["elena", "marcus", "clare"]
SPLIT = "split billing out first, behind a flag"
STAY = "stay a monolith until the shared tables are gone"


@dataclass
class Seeded:
    conn: Any
    rt_id: str
    ids: dict[str, int] = field(default_factory=dict)

    def state(self, config: dict[str, Any] | None = None) -> SimpleNamespace:
        """What write_decision reads from the runner's RoundtableState."""
        from amatelier.config import load_config

        return SimpleNamespace(conn=self.conn, rt_id=self.rt_id, topic="split the monolith?",
                               briefing_text="- Team: 8 engineers\n- One shared database",
                               workers=list(WORKERS), judge="judge", config=config or load_config())


def _turn(seed: Seeded, agent: str, round_no: int, phase: str, text: str, key: str) -> int:
    message_id = msgs.post(seed.conn, seed.rt_id, agent, text, kind="speech", round=round_no, phase=phase)
    record_turn_position(seed.conn, rt_id=seed.rt_id, message_id=message_id, agent=agent, round_no=round_no,
                         phase=phase, text=text, participants=WORKERS)
    seed.ids[key] = message_id
    return message_id


def seed_roundtable(*, close: bool = True, cut_reason: str | None = None) -> Seeded:
    """Open a roundtable, post a two-round debate with positions, close (or cut) it."""
    conn = open_db()
    rt_id = roundtables.open_roundtable(conn, "split the monolith?", [*WORKERS, "judge"])
    seed = Seeded(conn, rt_id)
    msgs.post(conn, rt_id, "runner", "BRIEFING:\n\n- Team: 8 engineers\n- One shared database", kind="briefing")
    msgs.post(conn, rt_id, "runner", "ROUND 1: begin", kind="phase", round=1, phase="ROUND")
    _turn(seed, "elena", 1, "SPEAK", f"The data boundary is clear.\nPOSITION: {SPLIT} | CONFIDENCE: 70 | MOVED BY: none",
          "elena1")
    _turn(seed, "marcus", 1, "SPEAK", f"Cut-over risk is unpriced.\n**Position:** {STAY} | confidence: 0.8 | moved by: none",
          "marcus1")
    _turn(seed, "clare", 1, "SPEAK", f"Three points: owner, schema, pipeline.\nposition - {SPLIT}\nConfidence: 65%",
          "clare1")
    msgs.post(conn, rt_id, "judge", "CONTINUE: the rollback plan is still open", kind="judge", round=1, phase="GATE")
    msgs.post(conn, rt_id, "runner", "[Research result for clare] request: key p95 in metrics.json\n"
              "ANSWER · path: examples/grounded/service-metrics.json · 120 bytes read · 0.01s\n412",
              kind="steward", round=1, phase="SPEAK")
    msgs.post(conn, rt_id, "runner", "[Research result for elena] request: read /etc/passwd\n"
              "REFUSED (out of scope) · path: /etc/passwd · 0.00s\nnot a registered file",
              kind="steward", round=1, phase="SPEAK")
    msgs.post(conn, rt_id, "runner", "ROUND 2: begin", kind="phase", round=2, phase="ROUND")
    _turn(seed, "elena", 2, "SPEAK", f"Still the same.\nPOSITION: {SPLIT} | CONFIDENCE: 75 | MOVED BY: none", "elena2")
    _turn(seed, "marcus", 2, "SPEAK",
          f"Clare's schema point (#{seed.ids['clare1']}) answers my risk.\n"
          f"POSITION: {SPLIT} | CONFIDENCE: 60 | MOVED BY: clare #{seed.ids['clare1']}", "marcus2")
    _turn(seed, "clare", 2, "REBUTTAL", "I have nothing to add to my position.", "clare2")  # no POSITION line
    msgs.post(conn, rt_id, "judge", "CONVERGED: positions settled", kind="judge", round=2, phase="GATE")
    if cut_reason:
        roundtables.cut_roundtable(conn, rt_id, cut_reason)
    elif close:
        roundtables.close_roundtable(conn, rt_id)
    return seed


class ScriptedChair:
    """A backend whose answers are given in order; records what it was asked."""

    name = "scripted"

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked: list[dict[str, Any]] = []

    def resolve_model(self, model: str) -> str:
        return f"scripted-{model}"

    def complete(self, **kwargs: Any) -> Any:
        from amatelier.backends.base import Completion

        self.asked.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return Completion(text=answer, backend=self.name, model=self.resolve_model(kwargs.get("model", "")),
                          input_tokens=10, output_tokens=10, latency_ms=1.0, stop_reason="end_turn")
