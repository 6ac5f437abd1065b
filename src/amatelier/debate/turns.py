"""The runner's side of a turn: ask an agent, wait for its answer, recover from trouble.

`TurnDriver.run_turn()` inserts the turn row (with the YOUR TURN line), then waits on the
database for the worker to answer. While it waits it watches the worker process: a crash
releases the turn and restarts the worker (up to the configured limit), and a missed
deadline marks the turn timed out, posts "<agent> did not respond" and replaces the hung
worker, so the debate moves on. Handoff timings are kept for the digest and the benchmark.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amatelier.chat import messages as msgs
from amatelier.chat import turns as turn_db
from amatelier.chat.waiting import ChangeWaiter
from amatelier.debate.procs import WorkerPool

POLL_CAP_S = 0.2


@dataclass
class TurnOutcome:
    """How one turn ended, and what the agent said."""

    agent: str
    phase: str
    round: int
    turn_id: int | None
    status: str                      # done, failed, timeout, cancelled, skipped
    text: str | None = None
    message_id: int | None = None
    error: str | None = None
    replayed: bool = False           # taken from the database on --resume, not asked again

    @property
    def answered(self) -> bool:
        """True when the agent posted an answer for this turn."""
        return self.status == turn_db.DONE and self.text is not None


@dataclass
class TurnTiming:
    """Timestamps of one turn's handoffs (unix seconds), for the engine stats."""

    agent: str
    phase: str
    requested: float
    claimed: float | None
    posted: float | None
    seen: float
    status: str
    llm_ms: float = 0.0


@dataclass
class TurnDriver:
    """Runs turns for the runner: request, wait, recover."""

    conn: sqlite3.Connection
    rt_id: str
    pool: WorkerPool
    timeout_s: float
    say: Callable[[str], Any] = field(default=lambda text: None)   # posts a runner line
    on_wait: Callable[[], Any] | None = None                        # called while waiting
    timings: list[TurnTiming] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)      # restarts, timeouts, failures

    def __post_init__(self) -> None:
        self.waiter = ChangeWaiter(self.conn)

    # ------------------------------------------------------------------ helpers

    def _event(self, kind: str, agent: str, **details: Any) -> None:
        self.events.append({"event": kind, "agent": agent, "at": time.time(), **details})

    def _recover_crash(self, agent: str, turn_id: int) -> bool:
        """The agent's worker died mid-wait: release its turn and restart it if allowed."""
        turn_db.release(self.conn, turn_id)
        code = self.pool.workers[agent].proc.poll() if agent in self.pool.workers else None
        if agent in self.pool.workers and self.pool.can_restart(agent):
            worker = self.pool.restart(agent)
            self._event("restart", agent, exit_code=code, restarts=worker.restarts)
            self.say(f"{agent}'s worker stopped (exit {code}); restarted "
                     f"({worker.restarts}/{self.pool.max_restarts})")
            return True
        self._event("down", agent, exit_code=code)
        return False

    def _replace_hung(self, agent: str) -> None:
        """A worker stuck on a turn is replaced; with no restarts left it is stopped for good."""
        if agent not in self.pool.workers:
            return
        if self.pool.can_restart(agent):
            worker = self.pool.restart(agent)
            self._event("restart", agent, reason="timeout", restarts=worker.restarts)
        else:
            self.pool.stop(agent)
            self._event("down", agent, reason="timeout")

    # ------------------------------------------------------------------ the turn

    def run_turn(self, agent: str, phase: str, instructions: str, *, round: int,
                 timeout_s: float | None = None) -> TurnOutcome:
        """Ask `agent` for its `phase` turn and wait for the answer, a failure or the deadline."""
        return self.run_turns([(agent, phase, instructions)], round=round, timeout_s=timeout_s)[agent]

    def run_turns(self, asks: list[tuple[str, str, str]], *, round: int,
                  timeout_s: float | None = None) -> dict[str, TurnOutcome]:
        """Ask several agents at once, (agent, phase, instructions) each, and wait for every answer.

        Used for independent openings: each turn is requested before any is answered, so the
        workers write at the same time; each turn keeps its own deadline and crash recovery.
        """
        timeout = timeout_s or self.timeout_s
        results: dict[str, TurnOutcome] = {}
        pending: dict[str, tuple[int, str, float]] = {}
        for agent, phase, text in asks:
            if agent in self.pool.workers and not self.pool.alive(agent) and not self.pool.can_restart(agent):
                self.say(f"{agent} did not respond (worker is down)")
                self._event("skipped", agent, phase=phase, round=round)
                results[agent] = TurnOutcome(agent, phase, round, None, "skipped", error="worker is down")
                continue
            turn_id = turn_db.request_turn(self.conn, self.rt_id, agent, round=round, phase=phase,
                                           instructions=text, timeout_s=timeout)
            pending[agent] = (turn_id, phase, time.time() + timeout)
        while pending:
            for agent, (turn_id, phase, deadline) in list(pending.items()):
                outcome = self._check(agent, turn_id, phase, round, deadline, timeout)
                if outcome is not None:
                    results[agent] = outcome
                    del pending[agent]
            if not pending:
                break
            if self.on_wait is not None:
                self.on_wait()
            soonest = min(deadline for _, _, deadline in pending.values())
            self.waiter.wait(max(0.0, min(POLL_CAP_S, soonest - time.time())))
        return results

    def _check(self, agent: str, turn_id: int, phase: str, round: int, deadline: float,
               timeout: float) -> TurnOutcome | None:
        """One look at a requested turn: its outcome once final, after crash/deadline handling."""
        row = turn_db.get_turn(self.conn, turn_id)
        status = row["status"] if row else turn_db.CANCELLED
        if status in turn_db.FINAL:
            return self._finish(row, agent, phase, round)
        if agent in self.pool.workers and not self.pool.alive(agent) \
                and not self._recover_crash(agent, turn_id):
            turn_db.expire(self.conn, turn_id, turn_db.FAILED, "worker crashed; no restarts left")
            return self._finish(turn_db.get_turn(self.conn, turn_id), agent, phase, round)
        if time.time() >= deadline:
            if turn_db.expire(self.conn, turn_id, turn_db.TIMEOUT, f"no answer within {timeout:g}s"):
                was_claimed = row is not None and row["status"] == turn_db.CLAIMED
                self.say(f"{agent} did not respond (no answer within {timeout:g}s)")
                self._event("timeout", agent, phase=phase, round=round)
                if was_claimed:
                    self._replace_hung(agent)
            return self._finish(turn_db.get_turn(self.conn, turn_id), agent, phase, round)
        return None

    def _finish(self, row: dict[str, Any] | None, agent: str, phase: str, round: int) -> TurnOutcome:
        seen = time.time()
        if row is None:
            return TurnOutcome(agent, phase, round, None, turn_db.CANCELLED)
        status = row["status"]
        text = None
        posted = None
        if status == turn_db.DONE and row["message_id"]:
            message = msgs.get_message(self.conn, row["message_id"])
            if message:
                text = message["content"]
                posted = message["created_ts"]
        if status == turn_db.FAILED and str(row["error"] or "").startswith("ceiling:"):
            self._event("ceiling", agent, phase=phase, round=round, error=row["error"])  # the runner stops
        elif status == turn_db.FAILED:
            self.say(f"{agent} did not respond ({(row['error'] or 'the model call failed')[:200]})")
            self._event("failed", agent, phase=phase, round=round, error=row["error"])
        self.timings.append(TurnTiming(agent=agent, phase=phase, requested=row["requested_at"],
                                       claimed=row["claimed_at"], posted=posted, seen=seen,
                                       status=status))
        return TurnOutcome(agent, phase, round, row["id"], status, text=text,
                           message_id=row["message_id"], error=row["error"])
