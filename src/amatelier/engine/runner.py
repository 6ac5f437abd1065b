"""The roundtable runner: one process that opens a roundtable, drives its phases and digests it.

Phases are small functions over a `Runner` (which holds the RoundtableState, the worker pool
and the turn driver): SPEAK on a queue (the Steward may defer a speaker), stability
measurement, REBUTTAL in reverse order, the Judge's gate, the FLOOR spending budgets, and a
health audit. The economy, learning and steward areas join only through their seams
(engine/*_hooks.py); an exception inside a seam is logged and recorded in the digest, and
never costs the transcript.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import write_json_atomic, write_text_atomic
from amatelier.chat import messages as msgs
from amatelier.chat import roundtables
from amatelier.chat import turns as turn_db
from amatelier.commands.errors import UserError
from amatelier.engine import economy_hooks, learning_hooks, steward_hooks
from amatelier.engine.debate_signals import is_pass, jaccard, parse_gate_answer
from amatelier.engine.digest import build_digest, format_digest_summary, llm_usage, percentile
from amatelier.engine.procs import WorkerPool
from amatelier.engine.state import RoundtableState
from amatelier.engine.turns import TurnDriver, TurnOutcome

NAOMI = "naomi"
MAX_DEFERRALS_PER_PHASE = 3
CLOSE_GRACE_S = 3.0


class RoundtableInterrupted(BaseException):
    """Ctrl-C or SIGTERM while a roundtable runs; `reason` is recorded as the cut reason.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way (a seam,
    a model call's error handling) can swallow a SIGTERM.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RoundtableAborted(Exception):
    """The runner decided to stop (health audit); the roundtable is already cut."""


@dataclass
class RunOptions:
    """What the user asked for (CLI flags), before validation."""

    topic: str
    briefing: str
    workers: list[str] | None = None
    max_rounds: int | None = None
    skip_naomi: bool = False
    speaker_timeout: float | None = None
    budget: int | None = None
    skip_post: bool = False
    launch_dir: Path = field(default_factory=Path.cwd)


@dataclass
class Plan:
    """Everything decided before anything is written."""

    config: dict[str, Any]
    mode: str
    workers: list[str]
    judge: str
    briefing_path: Path
    briefing_text: str
    max_rounds: int
    budget: int
    speaker_timeout: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """The digest, where it was written, and the command's exit code."""

    digest: dict[str, Any]
    digest_path: Path
    exit_code: int = 0


# --------------------------------------------------------------------------- planning (no writes)


def parse_workers(csv: str | None) -> list[str] | None:
    """`--workers` CSV to a de-duplicated, lower-cased list (None when not given)."""
    if csv is None:
        return None
    seen: list[str] = []
    for name in csv.split(","):
        name = name.strip().lower()
        if name and name not in seen:
            seen.append(name)
    return seen


def resolve_briefing(spec: str) -> Path:
    """The briefing file: first under the user briefing dir, then as given; UserError if neither."""
    given = Path(spec).expanduser()
    candidates = [paths.user_briefing_dir() / spec, given]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    if given.is_dir():
        raise UserError(f"briefing {spec} is a directory; give the briefing's markdown file")
    raise UserError(f"briefing not found: {spec} (looked in {paths.user_briefing_dir()} and "
                    f"{given.resolve() if not given.is_absolute() else given})")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if value < low or value > high:
        raise UserError(f"{name} must be between {low:g} and {high:g} (got {value:g})")


def _bounded(flag: str, given: float | None, settings: dict[str, Any], key: str, default: float,
             low: float, high: float, *, whole: bool = True) -> float:
    """A flag's value, else the config default; out of range names the flag or the config key."""
    if given is not None:
        _check_range(flag, given, low, high)
        return given
    from amatelier.config import ConfigError, source_of

    value = settings.get(key, default)
    dotted = f"roundtable.{key}"
    if whole and value != int(value):
        raise ConfigError(source_of(dotted), dotted, f"expected a whole number, got {value:g}")
    if value < low or value > high:
        raise ConfigError(source_of(dotted), dotted,
                          f"must be between {low:g} and {high:g} (got {value:g}; {flag} overrides it)")
    return value


def plan_roundtable(opts: RunOptions, *, config: dict[str, Any] | None = None) -> Plan:
    """Validate options, resolve workers, backend mode and briefing. Writes nothing."""
    from amatelier.config import load_config
    from amatelier.llm_backend import BACKENDS, make_backend, resolve_mode

    cfg = config if config is not None else load_config()
    settings = cfg.get("roundtable", {})
    team = cfg.get("team", {})
    known = sorted(team.get("workers", {}))
    judge = team.get("judge", {}).get("name", "judge")
    if not opts.topic or not opts.topic.strip():
        raise UserError("--topic must not be empty")

    max_rounds = int(_bounded("--max-rounds", opts.max_rounds, settings, "max_rounds", 3, 1,
                              int(settings.get("max_rounds_limit", 20))))
    budget = int(_bounded("--budget", opts.budget, settings, "budget_per_agent", 3, 0,
                          int(settings.get("budget_limit", 50))))
    timeout = float(_bounded("--speaker-timeout", opts.speaker_timeout, settings, "speaker_timeout_s", 200,
                             1, float(settings.get("speaker_timeout_limit_s", 3600)), whole=False))

    if opts.workers is not None:
        workers = list(opts.workers)
        if not workers:
            raise UserError("--workers is empty (known agents: " + ", ".join(known) + ")")
        unknown = [w for w in workers if w not in known]
        if unknown:
            raise UserError(f"unknown worker {', '.join(repr(u) for u in unknown)} "
                            f"(known agents: {', '.join(known)})")
    else:
        workers = [w for w in team.get("default_workers", []) if w in known]
        if NAOMI in known and NAOMI not in workers:
            workers.append(NAOMI)
    if opts.skip_naomi and NAOMI in workers:
        workers.remove(NAOMI)

    briefing_path = resolve_briefing(opts.briefing)
    try:
        briefing_text = briefing_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read briefing {briefing_path}: {exc}") from exc
    if not briefing_text.strip():
        raise UserError(f"briefing {briefing_path} is empty")

    mode = resolve_mode(cfg)
    make_backend(mode, cfg)  # BackendUnavailable here: one clear error before anything is written
    warnings: list[str] = []
    from amatelier.engine import bench  # benched agents sit out the default roster (read-only)

    workers, bench_notes = bench.seat_workers(workers, bench.read_benched(), explicit=opts.workers is not None)
    warnings += bench_notes
    if NAOMI in workers and mode != "offline":
        from amatelier.config import worker_backend

        if worker_backend(cfg, NAOMI) == "gemini":
            ok, how = BACKENDS["gemini"].detect(cfg)
            if not ok:
                workers.remove(NAOMI)
                warnings.append(f"naomi skipped: {how}")
    if not workers:
        raise UserError("no workers left to run the roundtable")

    return Plan(config=cfg, mode=mode, workers=workers, judge=judge, briefing_path=briefing_path,
                briefing_text=briefing_text, max_rounds=max_rounds, budget=budget,
                speaker_timeout=timeout, warnings=warnings)


def worker_models(config: dict[str, Any], mode: str, agents: list[str], judge: str) -> dict[str, dict[str, str]]:
    """{agent: {role, backend, model}} as the workers will run them."""
    from amatelier.config import worker_backend, worker_model
    from amatelier.engine.context import agent_role
    from amatelier.llm_backend import BACKENDS

    result = {}
    for agent in [*agents, judge]:
        token = worker_model(config, agent)
        backend = "gemini" if worker_backend(config, agent) == "gemini" and mode != "offline" else mode
        cls = BACKENDS.get(backend)
        model = cls(config).resolve_model(token) if cls else token
        result[agent] = {"role": agent_role(config, agent), "backend": backend, "model": model}
    return result


# --------------------------------------------------------------------------- instructions


def instructions(phase: str, *, round: int, max_rounds: int, budget_left: int | None = None,
                 floor_turn: int | None = None, agents: list[str] | None = None) -> str:
    """Task text for a turn: `KEY: value` markers first (see engine.context), then prose.

    The prose is written for a real model: one short paragraph per phase saying what to do,
    how long, and the exact reply form where the runner parses it (PASS on the floor,
    CONVERGED:/CONTINUE:/GATE: lines at the gate).
    """
    markers = [f"MAX ROUNDS: {max_rounds}"]
    if budget_left is not None:
        markers.append(f"BUDGET LEFT: {budget_left}")
    if floor_turn is not None:
        markers.append(f"FLOOR TURN: {floor_turn}")
    where = f"Round {round} of {max_rounds}"
    last = round >= max_rounds
    if phase == "SPEAK":
        prose = (f"{where} · SPEAK. State your position on the topic in your own voice, in at most "
                 "~200 words. Be concrete: cite the briefing where it supports you, and answer other "
                 "agents by name where you agree or disagree.")
        if round > 1:
            prose += " Say whether your position moved since your last speech, and why."
        if last and max_rounds > 1:
            prose += " This is the last round: end with your final position in one sentence."
    elif phase == "REBUTTAL":
        prose = (f"{where} · REBUTTAL. Answer the strongest points made this round, naming the agents "
                 "you answer: rebut what you think is wrong and say why, support what is right. At "
                 "most ~150 words. Do not repeat your opening.")
    elif phase == "GATE":
        # The reply forms stay mid-sentence: a line of the prompt must never itself read as a
        # signal, or a model that quotes its instructions would decide the gate by accident.
        prose = (f"{where} · JUDGE GATE. You are the Judge; do not argue the topic. Start your reply "
                 "with the decision line, either `CONVERGED: <one-sentence reason>` when positions have "
                 "settled and another round would only repeat, or `CONTINUE: <the open disagreement the "
                 "next round must settle>`. After it, only for a genuine breakthrough this round (rare; "
                 "most rounds have none), add one line per award in the form "
                 "`GATE: <agent> — <the specific contribution>`. Nothing else.")
        if agents:
            prose += f" Participants: {', '.join(agents)}."
        if last:
            prose += " This is the last round: the debate ends either way; say CONVERGED only if it settled."
    elif phase == "FLOOR":
        prose = (f"{where} · OPEN FLOOR. Speak only if you add something new that would change the "
                 "decision (a missed risk, a fact, a better option), in at most ~100 words; it costs 1 "
                 "budget. Otherwise reply with exactly one word: PASS")
    elif phase == "RESEARCH":
        prose = ("Research window before the debate: give a short opening statement and, if you need "
                 "facts from the registered files, ask with [[request: ...]] tags.")
    else:
        raise KeyError(phase)
    return "\n".join(markers) + "\n\n" + prose


def budget_status(budgets: dict[str, int], start: dict[str, int]) -> str:
    """The `BUDGET STATUS: elena 2/3, ...` line posted at each round start."""
    return "BUDGET STATUS: " + ", ".join(f"{a} {budgets.get(a, 0)}/{start.get(a, 0)}" for a in start)


# --------------------------------------------------------------------------- the run


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
        self.driver = TurnDriver(state.conn, state.rt_id, pool, plan.speaker_timeout,
                                 say=self.say, on_wait=self._tick)
        state.notes["run_turn"] = self.run_turn

    # ------------------------------------------------------------------ small helpers

    def say(self, text: str, *, kind: str = "system", phase: str | None = None) -> int:
        """Post a runner line in the current round."""
        return msgs.post(self.state.conn, self.state.rt_id, "runner", text, kind=kind,
                         round=self.state.current_round or None, phase=phase)

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
        except (KeyboardInterrupt, RoundtableInterrupted):
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
        outcome = self.driver.run_turn(agent, phase, text, round=self.state.current_round)
        self.state.notes["last_outcome"] = outcome  # seams may need the posted message id
        self.outcomes.setdefault(self.state.current_round, {}).setdefault(agent, []).append(outcome.status)
        return outcome

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

    def speak_phase(self, round_no: int) -> None:
        """SPEAK: every worker once, in order; the Steward may defer a speaker."""
        state = self.state
        self.phase_header("SPEAK", f"--- SPEAK PHASE (Round {round_no}) ---")
        queue = list(state.speaking_order)
        deferrals: dict[str, int] = {}
        spoken = self.speeches.setdefault(round_no, {})
        while queue:
            self.seam("steward_hooks.poll", steward_hooks.poll, state)
            ready = [a for a in queue if not self.seam("steward_hooks.waiting", steward_hooks.waiting,
                                                       state, a, default=False)]
            if not ready:
                self.seam("steward_hooks.intermission", steward_hooks.intermission, state)
                ready = [a for a in queue if not self.seam("steward_hooks.waiting",
                                                           steward_hooks.waiting, state, a,
                                                           default=False)] or [queue[0]]
            agent = ready[0]
            queue.remove(agent)
            outcome = self.run_turn(agent, "SPEAK", self.with_steward(agent, instructions(
                "SPEAK", round=round_no, max_rounds=state.max_rounds)))
            if not outcome.answered:
                continue
            spoken[agent] = outcome.text or ""
            deferred = self.seam("steward_hooks.after_speech", steward_hooks.after_speech, state, agent,
                                 outcome.text or "", default=False)
            if deferred and deferrals.get(agent, 0) < MAX_DEFERRALS_PER_PHASE:
                deferrals[agent] = deferrals.get(agent, 0) + 1
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

    def rebuttal_phase(self, round_no: int) -> None:
        """REBUTTAL: every worker once, in reverse speaking order."""
        self.seam("steward_hooks.drain", steward_hooks.drain, self.state)
        self.phase_header("REBUTTAL", "--- REBUTTAL PHASE ---")
        for agent in reversed(self.state.speaking_order):
            self.run_turn(agent, "REBUTTAL", instructions("REBUTTAL", round=round_no,
                                                          max_rounds=self.state.max_rounds))

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

    def floor_phase(self, round_no: int) -> None:
        """Agents with budget may contribute (−1 budget each) until all PASS or budgets run out."""
        state = self.state
        self.phase_header("FLOOR", "--- FLOOR PHASE ---")
        passed: set[str] = set()
        floor_turns: dict[str, int] = {}
        while True:
            eligible = [a for a in state.speaking_order
                        if a not in passed and state.budgets.get(a, 0) > 0]
            if not eligible:
                break
            for agent in eligible:
                self.seam("steward_hooks.poll", steward_hooks.poll, state)
                floor_turns[agent] = floor_turns.get(agent, 0) + 1
                outcome = self.run_turn(agent, "FLOOR", self.with_steward(agent, instructions(
                    "FLOOR", round=round_no, max_rounds=state.max_rounds,
                    budget_left=state.budgets.get(agent, 0), floor_turn=floor_turns[agent])))
                if not outcome.answered or is_pass(outcome.text):
                    passed.add(agent)
                else:
                    state.budgets[agent] = state.budgets.get(agent, 0) - 1
                    # A FLOOR turn may ask the Steward too; its answer comes at a later poll/drain.
                    self.seam("steward_hooks.after_speech", steward_hooks.after_speech, state, agent,
                              outcome.text or "", default=False)

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
        msgs.post(state.conn, state.rt_id, "runner",
                  f"ROUND {round_no}: begin\n{budget_status(state.budgets, state.budget_start)}",
                  kind="phase", round=round_no, phase="ROUND")
        self._show()

    def debate(self) -> None:
        """The round loop: SPEAK, REBUTTAL, JUDGE GATE, FLOOR, health audit."""
        state = self.state
        for round_no in range(1, state.max_rounds + 1):
            self.round_start(round_no)
            self.rounds_run = round_no
            self.speak_phase(round_no)
            self.rebuttal_phase(round_no)
            if self.judge_gate(round_no):
                break
            if any(state.budgets.get(a, 0) > 0 for a in state.workers):
                self.floor_phase(round_no)
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
            "events": self.driver.events,
        }

    def calls(self) -> list[dict[str, Any]]:
        """Every llm_calls row of this roundtable so far."""
        return [dict(r) for r in self.state.conn.execute(
            "SELECT * FROM llm_calls WHERE rt_id = ? ORDER BY id", (self.state.rt_id,))]

    def refresh_usage(self, digest: dict[str, Any]) -> None:
        """Recount `llm_usage` from llm_calls, so it includes the steps after the debate."""
        digest["llm_usage"] = llm_usage(self.calls())

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
            engine=self.engine_stats(calls),
        )
        if self.plan.warnings:
            digest["warnings"] = list(self.plan.warnings)
        return digest


def write_digest(digest: dict[str, Any], rt_id: str, hook_errors: list[dict[str, str]]) -> Path:
    """Write digest-<rt_id>.json atomically (with any seam errors)."""
    if hook_errors:
        digest["hook_errors"] = list(hook_errors)
    path = paths.user_digest_dir() / f"digest-{rt_id}.json"
    write_json_atomic(path, digest)
    return path


def write_latest_result(digest: dict[str, Any], digest_path: Path) -> Path:
    """Write latest-result.md: the human summary of the latest roundtable."""
    path = paths.user_digest_dir() / "latest-result.md"
    body = ["# Latest roundtable result", "", "```text", format_digest_summary(digest, str(digest_path)),
            "```", ""]
    write_text_atomic(path, "\n".join(body))
    return path


def _log_traceback(rt_id: str) -> None:
    import traceback

    with contextlib.suppress(OSError):
        paths.user_logs_dir().mkdir(parents=True, exist_ok=True)
        with open(paths.user_logs_dir() / f"{rt_id}-runner.log", "a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())


def _note_interrupted(digest: dict[str, Any], warn: Callable[[str], None]) -> None:
    """Ctrl-C or SIGTERM after the debate closed: keep the transcript and digest, skip the rest."""
    note = "interrupted during the post-roundtable steps; the remaining steps were skipped"
    digest.setdefault("warnings", []).append(note)
    warn(f"amatelier: {note} (the debate itself is complete and kept)")


def _raise_terminated(signum: int, frame: Any) -> None:
    raise RoundtableInterrupted("terminated")


def run_roundtable(opts: RunOptions, *, progress: Any = None,
                   warn: Callable[[str], None] = _stderr) -> RunResult:
    """Run a whole roundtable and return its digest (exit_code 1 when it was cut)."""
    from amatelier.chat.db import open_db

    plan = plan_roundtable(opts)
    for line in plan.warnings:
        warn(f"amatelier: warning: {line}")
    conn = open_db()
    for rt_id, reason in roundtables.cut_orphans(conn):
        warn(f"amatelier: note: roundtable {rt_id} was left open by a dead runner; marked cut ({reason})")

    participants = [*plan.workers, plan.judge]
    rt_id = roundtables.open_roundtable(conn, opts.topic.strip(), participants, runner_pid=os.getpid())
    state = RoundtableState(
        rt_id=rt_id, topic=opts.topic.strip(), briefing_text=plan.briefing_text,
        briefing_path=plan.briefing_path, launch_dir=Path(opts.launch_dir), workers=list(plan.workers),
        judge=plan.judge, config=plan.config, conn=conn, mode=plan.mode, max_rounds=plan.max_rounds,
        budget_per_agent=plan.budget, skip_post=opts.skip_post, speaker_timeout_s=plan.speaker_timeout,
        budgets={w: plan.budget for w in plan.workers},
    )
    pool = WorkerPool(rt_id, paths.user_logs_dir(),
                      max_restarts=int(plan.config.get("roundtable", {}).get("max_worker_restarts", 2)))
    runner = Runner(plan, opts, state, pool, progress=progress, warn=warn)
    announce = getattr(progress, "started", None)
    if announce is not None:
        announce(rt_id)
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated)
    cut_reason: str | None = None
    exit_code = 0
    try:
        try:
            msgs.post(conn, rt_id, "runner", f"BRIEFING:\n\n{plan.briefing_text.strip()}", kind="briefing")
            runner.seam("steward_hooks.setup", steward_hooks.setup, state)
            runner.seam("economy_hooks.before_open", economy_hooks.before_open, state)
            runner.seam("learning_hooks.before_open", learning_hooks.before_open, state)
            state.budget_start = dict(state.budgets)
            runner.seam("economy_hooks.on_open", economy_hooks.on_open, state)
            pool.start_all(participants)
            state.current_phase = "RESEARCH"
            runner.seam("steward_hooks.research_window", steward_hooks.research_window, state)
            order = list(state.workers)
            random.shuffle(order)
            ordered = runner.seam("economy_hooks.order_speakers", economy_hooks.order_speakers, state,
                                  list(order), default=order)
            if not isinstance(ordered, list) or sorted(ordered) != sorted(order):
                ordered = order
            state.speaking_order = ordered
            msgs.post(conn, rt_id, "runner", "SPEAKING ORDER: " + ", ".join(ordered), kind="system")
            runner.debate()
        except KeyboardInterrupt:
            raise RoundtableInterrupted("keyboard interrupt") from None
    except RoundtableInterrupted as exc:
        cut_reason = exc.reason
        exit_code = 1
    except RoundtableAborted as exc:
        cut_reason = str(exc)
        exit_code = 1
    except Exception as exc:  # noqa: BLE001 - a runner bug must still cut cleanly and keep the transcript
        cut_reason = f"runner error: {type(exc).__name__}: {exc}"
        exit_code = 1
        _log_traceback(rt_id)
        warn(f"amatelier: error: {cut_reason} (traceback in {paths.user_logs_dir() / f'{rt_id}-runner.log'})")
    finally:
        runner.stage("closing")
        with _held_signals() as held_at_close:  # closing and stopping workers always finish
            if cut_reason is not None:
                roundtables.cut_roundtable(conn, rt_id, cut_reason)
            elif not roundtables.close_roundtable(conn, rt_id) and roundtables.status(conn, rt_id) == "cut":
                cut_reason = (roundtables.get_roundtable(conn, rt_id) or {}).get("cut_reason")
            if not pool.wait_all(CLOSE_GRACE_S if cut_reason is None else 0.5):
                pool.stop_all()
            else:
                pool.stop_all(grace=0.0)
        # From here on SIGTERM is handled like Ctrl-C: the debate is kept, the extras stop.
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        result = _after_debate(runner, opts, cut_reason, warn,
                               interrupted=bool(held_at_close) and cut_reason is None)
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    conn.close()
    if progress is not None:
        progress.stop()
    if result.exit_code == 0:
        result.exit_code = exit_code
    return result


@contextlib.contextmanager
def _held_signals() -> Any:
    """Hold Ctrl-C and SIGTERM while a digest is built or written (never half-done).

    Yields a list that holds the signals that arrived meanwhile, so the caller can stop
    after the block instead of in the middle of it.
    """
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _after_debate(runner: Runner, opts: RunOptions, cut_reason: str | None,
                  warn: Callable[[str], None], *, interrupted: bool = False) -> RunResult:
    """Digest, judge scoring and distilling, then (unless --skip-post) the post steps.

    Ctrl-C or SIGTERM here keeps the debate and its digest and skips the remaining steps
    (exit 1); the digest and latest-result.md are always written.
    """
    state = runner.state
    rt_id = state.rt_id
    with _held_signals() as held:
        runner.stage("digest")
        digest = runner.digest()
    interrupted = interrupted or bool(held)
    if cut_reason is None and not interrupted:
        try:
            runner.stage("scoring")
            merged = runner.seam("economy_hooks.after_close", economy_hooks.after_close, state, digest,
                                 default={})
            if isinstance(merged, dict):
                digest.update(merged)
            runner.stage("distilling")
            merged = runner.seam("learning_hooks.after_close", learning_hooks.after_close, state, digest,
                                 default={})
            if isinstance(merged, dict):
                digest.update(merged)
        except (KeyboardInterrupt, RoundtableInterrupted):  # only the extras are cut short
            interrupted = True
    if interrupted:
        _note_interrupted(digest, warn)
    with _held_signals() as held:
        merged = runner.seam("steward_hooks.digest_fields", steward_hooks.digest_fields, state, default={})
        if isinstance(merged, dict):
            digest.update(merged)
        runner.refresh_usage(digest)
        digest_path = write_digest(digest, rt_id, runner.hook_errors)
    if held and not interrupted:
        interrupted = True
        _note_interrupted(digest, warn)
        with _held_signals():
            digest_path = write_digest(digest, rt_id, runner.hook_errors)
    if cut_reason is None and not opts.skip_post and not interrupted:
        before = json.dumps(digest, sort_keys=True, default=str)
        try:
            runner.stage("post")
            runner.seam("learning_hooks.post", learning_hooks.post, state, digest)
            runner.seam("economy_hooks.after_post", economy_hooks.after_post, state, digest)
        except (KeyboardInterrupt, RoundtableInterrupted):
            interrupted = True
            _note_interrupted(digest, warn)
        with _held_signals():
            runner.refresh_usage(digest)
            if json.dumps(digest, sort_keys=True, default=str) != before or runner.hook_errors:
                digest_path = write_digest(digest, rt_id, runner.hook_errors)
    with _held_signals():  # everything is done; a signal now has nothing left to stop
        write_latest_result(digest, digest_path)
    return RunResult(digest=digest, digest_path=digest_path, exit_code=1 if interrupted else 0)
