"""The rounds of one debate: SPEAK, REBUTTAL, the Judge's GATE, the FLOOR and the health audit.

`Runner.debate()` is the round loop; each phase is one method over the RoundtableState, the
worker pool and the turn driver. Steward calls join through debate.steward_turns.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from amatelier.chat import llm_holds, roundtables
from amatelier.chat import messages as msgs
from amatelier.chat import turns as turn_db
from amatelier.debate import recording
from amatelier.debate import steward_turns as steward_hooks
from amatelier.debate.digest import build_digest, llm_usage, percentile
from amatelier.debate.instructions import budget_status, instructions
from amatelier.debate.interrupts import (
    CeilingStop,
    RoundtableAborted,
    RoundtableInterrupted,
)
from amatelier.debate.planning import (
    NAOMI,
    Plan,
    RunOptions,
    worker_models,
)
from amatelier.debate.procs import WorkerPool
from amatelier.debate.replay import Replay
from amatelier.debate.signals import floor_intent, is_pass, jaccard, parse_gate_answer
from amatelier.debate.turns import TurnDriver, TurnOutcome
from amatelier.state import RoundtableState

MAX_DEFERRALS_PER_PHASE = 3


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Runner:
    """One running roundtable: state, workers, turn driver, seam error log."""

    def __init__(self, plan: Plan, opts: RunOptions, state: RoundtableState, pool: WorkerPool,
                 *, progress: Any = None, warn: Callable[[str], None] = _stderr) -> None:
        self.plan = plan
        self.opts = opts
        self.state = state
        self.pool = pool
        self.progress = progress
        self.warn = warn
        self.hook_errors: list[dict[str, str]] = []
        self.speeches: dict[int, dict[str, str]] = {}
        self.outcomes: dict[int, dict[str, list[str]]] = {}
        self.rounds_run = 0
        self.replay: Replay | None = None       # set by --resume until the first live turn
        self.resume_note: dict[str, Any] = {}   # gap_s and resume count, for the resume event
        self.pause_for_human = float(getattr(opts, "pause_for_human", 0) or 0)
        self.driver = TurnDriver(state.conn, state.rt_id, pool, plan.speaker_timeout,
                                 say=self.say, on_wait=self._tick)
        self.recorder: Any = None  # the run's telemetry (debate.recording), when it could start
        state.notes["run_turn"] = self.run_turn

    # ------------------------------------------------------------------ small helpers

    def say(self, text: str, *, kind: str = "system", phase: str | None = None) -> int:
        """Post a runner line in the current round."""
        return self.post(text, kind=kind, round_no=self.state.current_round or None, phase=phase)

    def post(self, text: str, *, kind: str, round_no: int | None, phase: str | None) -> int:
        """Post a runner line, unless a resumed run finds the same line already in the transcript."""
        if self.replay is not None:
            found = self.replay.already_posted("runner", text, kind=kind, round_no=round_no, phase=phase)
            if found is not None:
                return found
        return msgs.post(self.state.conn, self.state.rt_id, "runner", text, kind=kind,
                         round=round_no, phase=phase)

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress.refresh()

    def stage(self, name: str) -> None:
        """Tell the progress line which after-debate step runs (see engine.progress.STAGES)."""
        show = getattr(self.progress, "stage", None)
        if show is not None:
            show(name)

    def _show(self, speaker: str = "") -> None:
        if self.progress is not None:
            self.progress.update(round=self.state.current_round, max_rounds=self.state.max_rounds,
                                 phase=self.state.current_phase, speaker=speaker)

    def seam(self, name: str, func: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        """Call a seam; on error log it, record it for the digest, and carry on."""
        try:
            return func(*args)
        except (KeyboardInterrupt, RoundtableInterrupted, CeilingStop):
            raise
        except Exception as exc:  # noqa: BLE001 - a seam must never take the roundtable down
            self.hook_errors.append({"seam": name, "error": f"{type(exc).__name__}: {exc}"})
            self.warn(f"amatelier: warning: {name} failed: {type(exc).__name__}: {exc}")
            return default

    def run_turn(self, agent: str, phase: str, instructions_text: str | None = None) -> TurnOutcome:
        """Ask one agent for one turn (also offered to seams as state.notes['run_turn'])."""
        phase = phase.upper()
        text = instructions_text or instructions(phase, round=self.state.current_round,
                                                 max_rounds=self.state.max_rounds)
        self._show(agent)
        outcome = self.replayed_turn(agent, phase)
        if outcome is None:
            self.check_ceilings()
            timings_before = len(self.driver.timings)
            outcome = self.driver.run_turn(agent, phase, text, round=self.state.current_round)
            recording.on_turn(self, outcome, timings_before)  # replayed turns were recorded when they ran
        self.state.notes["last_outcome"] = outcome  # seams may need the posted message id
        self.outcomes.setdefault(self.state.current_round, {}).setdefault(agent, []).append(outcome.status)
        self.check_ceilings()
        return outcome

    def check_ceilings(self) -> None:
        """End the debate (CeilingStop) once a model call was refused for a ceiling."""
        from amatelier.chat import spend

        stopped = spend.stop_reason(self.state.conn, self.state.rt_id)
        if stopped is not None:
            self.state.stop_reason = stopped[1]
            raise CeilingStop(stopped[1], stopped[0])

    def replayed_turn(self, agent: str, phase: str) -> TurnOutcome | None:
        """On --resume: the recorded outcome of this turn; the first turn without one ends the replay."""
        if self.replay is None:
            return None
        outcome = self.replay.take(agent, self.state.current_round, phase)
        if outcome is not None:
            return outcome
        self.replay.resumed_at = {"agent": agent, "round": self.state.current_round, "phase": phase}
        self.driver.events.append({"event": "resume", "agent": agent, "at": time.time(),
                                   "replayed_turns": self.replay.replayed, **self.resume_note,
                                   "round": self.state.current_round, "phase": phase})
        self.replay = None
        return None

    def wait_for_human(self, round_no: int) -> None:
        """--pause-for-human: after the gate, wait up to N seconds for a person's `amatelier say`."""
        if self.pause_for_human <= 0 or self.replay is not None or round_no >= self.state.max_rounds:
            return
        state = self.state
        since = msgs.last_id(state.conn, state.rt_id)
        if self.progress is not None:
            self.progress.update(round=round_no, max_rounds=state.max_rounds, phase="PAUSE",
                                 speaker=f"waiting up to {self.pause_for_human:g}s for you: "
                                         f"amatelier say --rt {state.rt_id} \"...\"")
        deadline = time.time() + self.pause_for_human
        while time.time() < deadline:
            if msgs.human_messages(state.conn, state.rt_id, after_id=since):
                return
            self._tick()
            self.driver.waiter.wait(min(0.2, max(0.0, deadline - time.time())))

    def with_steward(self, agent: str, text: str) -> str:
        """Append the Steward's how-to-ask paragraph (optional seam) to SPEAK/FLOOR instructions."""
        extra = getattr(steward_hooks, "turn_instructions", None)
        if extra is None:
            return text
        paragraph = self.seam("steward_hooks.turn_instructions", extra, self.state, agent, default="")
        return f"{text}\n\n{paragraph.strip()}" if isinstance(paragraph, str) and paragraph.strip() else text

    def phase_header(self, phase: str, title: str) -> None:
        """Enter a phase: post its header and update the progress line."""
        self.state.current_phase = phase
        self.say(title, kind="phase", phase=phase)
        self._show()

    # ------------------------------------------------------------------ phases

    def independent_openings(self, round_no: int) -> bool:
        """Round 1 openings are written at once, none seeing another (roundtable.opening)."""
        opening = str(self.state.config.get("roundtable", {}).get("opening", "independent")).lower()
        return round_no == 1 and opening != "sequential"

    def open_concurrently(self, queue: list[str], spoken: dict[str, str],
                          deferrals: dict[str, int]) -> list[str]:
        """Ask every ready speaker for its opening at once; returns who still has to speak."""
        state = self.state
        self.seam("steward_hooks.poll", steward_hooks.poll, state)
        ready = self.not_waiting(queue)
        if not ready:
            return queue
        outcomes: dict[str, TurnOutcome] = {}
        for agent in ready:  # on --resume, openings already answered are replayed, not asked again
            replayed = self.replayed_turn(agent, "SPEAK")
            if replayed is not None:
                outcomes[agent] = replayed
        asks = [(a, "SPEAK", self.with_steward(a, instructions(
            "SPEAK", round=1, max_rounds=state.max_rounds, independent=True)))
            for a in ready if a not in outcomes]
        if asks:
            self.check_ceilings()
            self._show(", ".join(a for a, _, _ in asks))
            before = len(self.driver.timings)
            live = self.driver.run_turns(asks, round=state.current_round)
            outcomes.update(live)
            recorder = getattr(self, "recorder", None)
            if recorder is not None:
                self.record_concurrent(recorder, live, before)
        later = [a for a in queue if a not in ready]
        for agent in ready:  # in speaking order, so seams see the speeches in a stable order
            outcome = outcomes[agent]
            self.state.notes["last_outcome"] = outcome
            self.outcomes.setdefault(state.current_round, {}).setdefault(agent, []).append(outcome.status)
            if self.heard(agent, outcome, spoken, deferrals):
                later.append(agent)
        self.check_ceilings()
        return later

    def not_waiting(self, queue: list[str]) -> list[str]:
        """The speakers in `queue` not still waiting on a Steward lookup."""
        return [a for a in queue if not self.seam("steward_hooks.waiting", steward_hooks.waiting,
                                                  self.state, a, default=False)]

    def heard(self, agent: str, outcome: TurnOutcome, spoken: dict[str, str],
              deferrals: dict[str, int]) -> bool:
        """Keep an answered speech and ask the Steward about it: True when the agent speaks again later."""
        if not outcome.answered:
            return False
        spoken[agent] = outcome.text or ""
        deferred = False if outcome.replayed else self.seam(
            "steward_hooks.after_speech", steward_hooks.after_speech, self.state, agent,
            outcome.text or "", default=False)
        if deferred and deferrals.get(agent, 0) < MAX_DEFERRALS_PER_PHASE:
            deferrals[agent] = deferrals.get(agent, 0) + 1
            return True
        return False

    def record_concurrent(self, recorder: Any, live: dict[str, TurnOutcome], before: int) -> None:
        """Telemetry for turns that ran at once: one by one, in the order of their model calls."""
        state = self.state
        last_call = {row[0]: int(row[1]) for row in state.conn.execute(
            "SELECT agent, MAX(id) FROM llm_calls WHERE rt_id = ? AND role = 'speak' GROUP BY agent",
            (state.rt_id,))}
        for agent in sorted(live, key=lambda a: last_call.get(a, 2**62)):
            timing = next((t for t in self.driver.timings[before:] if t.agent == agent), None)
            recorder.turn(recording.turn_record(live[agent], timing), state.conn,
                          calls_up_to=last_call.get(agent))

    def speak_phase(self, round_no: int) -> None:
        """SPEAK: every worker once, in order (round-1 openings at once); the Steward may defer."""
        state = self.state
        self.phase_header("SPEAK", f"--- SPEAK PHASE (Round {round_no}) ---")
        queue = list(state.speaking_order)
        deferrals: dict[str, int] = {}
        spoken = self.speeches.setdefault(round_no, {})
        if self.independent_openings(round_no):
            queue = self.open_concurrently(queue, spoken, deferrals)
        while queue:
            self.seam("steward_hooks.poll", steward_hooks.poll, state)
            ready = self.not_waiting(queue)
            if not ready:
                self.seam("steward_hooks.intermission", steward_hooks.intermission, state)
                ready = self.not_waiting(queue) or [queue[0]]
            agent = ready[0]
            queue.remove(agent)
            outcome = self.run_turn(agent, "SPEAK", self.with_steward(agent, instructions(
                "SPEAK", round=round_no, max_rounds=state.max_rounds)))
            if self.heard(agent, outcome, spoken, deferrals):
                queue.append(agent)
        self.measure_stability(round_no)

    def measure_stability(self, round_no: int) -> None:
        """Per-agent Jaccard similarity of this round's SPEAK to the previous round's."""
        if round_no < 2:
            return
        now, before = self.speeches.get(round_no, {}), self.speeches.get(round_no - 1, {})
        scores = {a: round(jaccard(before[a], now[a]), 4) for a in self.state.workers
                  if a in now and a in before}
        if scores:
            self.state.stability_scores[round_no] = scores
            recording.on_stability(self, round_no, scores)

    def rebuttal_phase(self, round_no: int) -> dict[str, bool]:
        """REBUTTAL: every worker once, in reverse speaking order; returns who asked for the floor."""
        state = self.state
        self.seam("steward_hooks.drain", steward_hooks.drain, state)
        self.phase_header("REBUTTAL", "--- REBUTTAL PHASE ---")
        wants: dict[str, bool] = {}
        for agent in reversed(state.speaking_order):
            budget = state.budgets.get(agent, 0)
            outcome = self.run_turn(agent, "REBUTTAL", instructions(
                "REBUTTAL", round=round_no, max_rounds=state.max_rounds, budget_left=budget,
                floor_intent=budget > 0))
            wants[agent] = budget > 0 and outcome.answered and floor_intent(outcome.text) is True
        return wants

    def judge_gate(self, round_no: int) -> bool:
        """The Judge decides CONVERGED (ends the loop) or CONTINUE; returns True on CONVERGED."""
        state = self.state
        self.phase_header("GATE", "--- JUDGE GATE ---")
        outcome = self.run_turn(state.judge, "GATE", instructions(
            "GATE", round=round_no, max_rounds=state.max_rounds, agents=state.workers))
        if not outcome.answered:
            return False
        answer = parse_gate_answer(outcome.text)
        if answer.converged:
            state.converged = True
            state.convergence_reason = answer.reason or answer.decision_line
            return True
        return False

    def floor_phase(self, round_no: int, wants: dict[str, bool]) -> None:
        """FLOOR for the agents who asked (`FLOOR: yes`) and have budget; −1 budget per contribution.

        A contribution may ask for one more turn the same way; nobody is called just to PASS.
        """
        state = self.state
        asking = [a for a in state.speaking_order if wants.get(a) and state.budgets.get(a, 0) > 0]
        if not asking:
            return
        self.phase_header("FLOOR", "--- FLOOR PHASE ---")
        floor_turns: dict[str, int] = {}
        while asking:
            again: list[str] = []
            for agent in asking:
                self.seam("steward_hooks.poll", steward_hooks.poll, state)
                floor_turns[agent] = floor_turns.get(agent, 0) + 1
                outcome = self.run_turn(agent, "FLOOR", self.with_steward(agent, instructions(
                    "FLOOR", round=round_no, max_rounds=state.max_rounds,
                    budget_left=state.budgets.get(agent, 0), floor_turn=floor_turns[agent],
                    floor_intent=True)))
                if not outcome.answered or is_pass(outcome.text):
                    continue
                state.budgets[agent] = state.budgets.get(agent, 0) - 1
                # A FLOOR turn may ask the Steward too; its answer comes at a later poll/drain.
                if not outcome.replayed:
                    self.seam("steward_hooks.after_speech", steward_hooks.after_speech, state,
                              agent, outcome.text or "", default=False)
                if floor_intent(outcome.text) is True and state.budgets.get(agent, 0) > 0:
                    again.append(agent)
            asking = again

    def health_audit(self, round_no: int) -> None:
        """Cut the roundtable when most workers are dead or answered nothing this round."""
        outcomes = self.outcomes.get(round_no, {})
        unhealthy = []
        for agent in self.state.workers:
            dead = not self.pool.alive(agent) and not self.pool.can_restart(agent)
            statuses = outcomes.get(agent, [])
            silent = bool(statuses) and turn_db.DONE not in statuses
            if dead or silent:
                unhealthy.append(agent)
        if len(unhealthy) * 2 > len(self.state.workers):
            reason = (f"health audit: {len(unhealthy)} of {len(self.state.workers)} workers dead or not "
                      f"responding in round {round_no} ({', '.join(unhealthy)})")
            roundtables.cut_roundtable(self.state.conn, self.state.rt_id, reason)
            raise RoundtableAborted(reason)

    def round_start(self, round_no: int) -> None:
        """Restart dead workers, refresh Naomi on schedule, post ROUND N and budgets."""
        state = self.state
        state.current_round = round_no
        state.current_phase = ""
        for agent in [*state.workers, state.judge]:
            if not self.pool.alive(agent) and self.pool.can_restart(agent):
                worker = self.pool.restart(agent)
                self.say(f"{agent}'s worker was down; restarted ({worker.restarts}/{self.pool.max_restarts})")
        refresh = int(state.config.get("roundtable", {}).get("gemini_refresh_round", 5))
        if round_no == refresh and round_no > 1 and NAOMI in state.workers and self.pool.alive(NAOMI):
            self.pool.restart(NAOMI, count=False)
            self.say(f"{NAOMI}'s worker relaunched at round {round_no} (scheduled refresh)")
        self.post(f"ROUND {round_no}: begin\n{budget_status(state.budgets, state.budget_start)}",
                  kind="phase", round_no=round_no, phase="ROUND")
        self._show()

    def debate(self) -> None:
        """The round loop: SPEAK, REBUTTAL, JUDGE GATE, FLOOR, health audit."""
        state = self.state
        for round_no in range(1, state.max_rounds + 1):
            self.round_start(round_no)
            self.rounds_run = round_no
            self.speak_phase(round_no)
            wants = self.rebuttal_phase(round_no)
            if self.judge_gate(round_no):
                break
            self.wait_for_human(round_no)
            self.floor_phase(round_no, wants)
            self.health_audit(round_no)
        # A lookup asked for in the last FLOOR has no later REBUTTAL to wait for: post it now,
        # so the transcript (and the digest) shows what the Steward answered.
        self.seam("steward_hooks.drain", steward_hooks.drain, state)

    # ------------------------------------------------------------------ digest

    def engine_stats(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        """Turn counts, handoff latencies and overhead for the digest's engine field."""
        timings = self.driver.timings
        claim = [(t.claimed - t.requested) * 1000 for t in timings if t.claimed]
        seen = [(t.seen - t.posted) * 1000 for t in timings if t.posted]
        wall = [(t.seen - t.requested) * 1000 for t in timings]
        llm = [float(c.get("latency_ms") or 0) for c in calls
               if c.get("role") in ("speak", "rebuttal", "floor", "gate", "research")]
        overhead = (sum(wall) / len(wall) - (sum(llm) / len(llm) if llm else 0.0)) if wall else None
        overhead_p50 = (percentile(wall, 50) - (percentile(llm, 50) or 0.0)) if wall else None

        def ms(value: float | None) -> float | None:
            return round(value, 2) if value is not None else None

        counts: dict[str, int] = {}
        for t in timings:
            counts[t.status] = counts.get(t.status, 0) + 1
        return {
            "turns": len(timings),
            "turn_status": counts,
            "handoff_claim_ms": {"p50": ms(percentile(claim, 50)), "p95": ms(percentile(claim, 95))},
            "handoff_seen_ms": {"p50": ms(percentile(seen, 50)), "p95": ms(percentile(seen, 95))},
            "overhead_per_turn_ms": ms(overhead),
            "overhead_per_turn_p50_ms": ms(overhead_p50),
            "events": self.events(),
        }

    def events(self) -> list[dict[str, Any]]:
        """The runner's turn events (restarts, timeouts, failures) and the breaker's holds, by time."""
        held = llm_holds.events(self.state.conn, self.state.rt_id)
        return sorted([*self.driver.events, *held], key=lambda e: e.get("at") or 0.0)

    def calls(self) -> list[dict[str, Any]]:
        """Every llm_calls row of this roundtable so far."""
        return [dict(r) for r in self.state.conn.execute(
            "SELECT * FROM llm_calls WHERE rt_id = ? ORDER BY id", (self.state.rt_id,))]

    def refresh_usage(self, digest: dict[str, Any]) -> None:
        """Recount `llm_usage`, the breaker events and the ceilings' spent, so they include the
        steps after the debate."""
        digest["llm_usage"] = llm_usage(self.calls())
        if isinstance(digest.get("engine"), dict):
            digest["engine"]["events"] = self.events()
        self.stop_fields(digest)

    def stop_fields(self, digest: dict[str, Any]) -> None:
        """`stop_reason` (why the debate ended) and, under ceilings, `ceilings` (limits, spent)."""
        from amatelier.chat import spend

        state = self.state
        ceilings = spend.summary(state.conn, state.rt_id)
        if ceilings is not None:
            digest["ceilings"] = ceilings
        if state.stop_reason:
            digest["stop_reason"] = state.stop_reason
        elif digest.get("cut_reason"):
            digest["stop_reason"] = f"cut: {digest['cut_reason']}"
        elif state.converged:
            digest["stop_reason"] = f"converged in round {self.rounds_run}"
        else:
            digest["stop_reason"] = f"max rounds reached ({self.rounds_run})"

    def positions(self) -> list[dict[str, Any]]:
        """The roundtable's stored position rows ([] on a database without the table)."""
        from amatelier.debate.positions import load_positions

        try:
            return load_positions(self.state.conn, self.state.rt_id)
        except sqlite3.OperationalError:
            return []

    def digest(self) -> dict[str, Any]:
        """Build the digest of this roundtable from the database and the state."""
        state = self.state
        rt = roundtables.get_roundtable(state.conn, state.rt_id) or {}
        calls = self.calls()
        digest = build_digest(
            rt=rt, messages=msgs.transcript(state.conn, state.rt_id), calls=calls,
            workers=state.workers, judge=state.judge, mode=state.mode, rounds=self.rounds_run,
            converged=state.converged, convergence_reason=state.convergence_reason,
            budget_start=state.budget_start, budgets=state.budgets,
            stability_scores=state.stability_scores,
            worker_models=worker_models(state.config, state.mode, state.workers, state.judge),
            engine=self.engine_stats(calls), positions=self.positions(),
        )
        if self.plan.warnings:
            digest["warnings"] = list(self.plan.warnings)
        if self.plan.steward_missing:
            digest["steward_missing"] = list(self.plan.steward_missing)
        people = msgs.human_messages(state.conn, state.rt_id)
        if people:  # shown, never scored: no ledger row or score refers to them
            digest["human_messages"] = [{"id": m["id"], "name": m["agent"], "round": m["round"],
                                         "text": m["content"]} for m in people]
        digest.update(recording.digest_fields(self))
        self.stop_fields(digest)
        return digest


