"""Replaying the turns a resumed roundtable already has, so none is asked twice.

A resumed runner walks the same rounds as the first one (same order, same budgets). While its
turns are already in the database, `Replay.take` hands back the recorded outcome instead of
asking the agent again, and runner lines already in the transcript are not posted twice. The
first turn with no recorded answer ends the replay; from there the debate goes on live.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from amatelier.chat import turns as turn_db
from amatelier.debate.turns import TurnOutcome

# A turn that ended this way was completed: the agent answered, or the runner gave up on it.
# A turn cancelled by the cut (or still pending/claimed when the runner died) is asked again.
COMPLETED = (turn_db.DONE, turn_db.TIMEOUT, turn_db.FAILED)


@dataclass
class Replay:
    """The recorded turns of one roundtable, in the order they were asked, per (agent, round, phase)."""

    conn: sqlite3.Connection
    rt_id: str
    queues: dict[tuple[str, int, str], deque[dict[str, Any]]] = field(default_factory=dict)
    replayed: int = 0
    resumed_at: dict[str, Any] | None = None   # the first live turn: agent, round, phase

    @classmethod
    def load(cls, conn: sqlite3.Connection, rt_id: str) -> Replay:
        """Every completed turn of the roundtable, with the text its message carried."""
        queues: dict[tuple[str, int, str], deque[dict[str, Any]]] = defaultdict(deque)
        rows = conn.execute(
            "SELECT t.id, t.agent, t.round, t.phase, t.status, t.message_id, t.error, m.content"
            " FROM turns t LEFT JOIN messages m ON m.id = t.message_id"
            " WHERE t.rt_id = ? AND t.status IN (?, ?, ?) ORDER BY t.id",
            (rt_id, *COMPLETED)).fetchall()
        for row in rows:
            queues[(row["agent"], int(row["round"]), row["phase"])].append(dict(row))
        return cls(conn, rt_id, dict(queues))

    @property
    def pending(self) -> int:
        """Recorded turns not yet handed back."""
        return sum(len(q) for q in self.queues.values())

    def take(self, agent: str, round_no: int, phase: str) -> TurnOutcome | None:
        """The next recorded outcome of this agent's turn in this round and phase, or None."""
        queue = self.queues.get((agent, round_no, phase.upper()))
        if not queue:
            return None
        row = queue.popleft()
        self.replayed += 1
        text = row["content"] if row["status"] == turn_db.DONE else None
        return TurnOutcome(agent, phase.upper(), round_no, row["id"], row["status"], text=text,
                           message_id=row["message_id"], error=row["error"], replayed=True)

    def already_posted(self, agent: str, content: str, *, kind: str, round_no: int | None,
                       phase: str | None) -> int | None:
        """The id of an identical message already in the transcript (so it is not posted again)."""
        row = self.conn.execute(
            "SELECT id FROM messages WHERE rt_id = ? AND agent = ? AND kind = ? AND content = ?"
            " AND round IS ? AND phase IS ? ORDER BY id LIMIT 1",
            (self.rt_id, agent, kind, content, round_no, phase)).fetchone()
        return int(row[0]) if row else None


def gap_seconds(conn: sqlite3.Connection, rt_id: str, now: float | None = None) -> float:
    """Seconds between the roundtable's last message and now (how long the debate was stopped)."""
    row = conn.execute("SELECT MAX(created_ts) FROM messages WHERE rt_id = ?", (rt_id,)).fetchone()
    last = row[0] if row and row[0] is not None else None
    return round((now or time.time()) - last, 1) if last is not None else 0.0
