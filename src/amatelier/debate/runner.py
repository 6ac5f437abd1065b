"""The roundtable runner: one process that opens a roundtable, runs its rounds and digests it.

Read it top-down: `run_roundtable` plans (debate.planning), opens the roundtable and its workers,
runs the rounds (`Runner.debate` in debate.rounds: SPEAK → REBUTTAL → GATE → FLOOR → health
audit, per round), closes or cuts it, then hands over to the after-debate pipeline
(debate.after: digest, then the named steps score → settle → distil → debrief). The steward,
economy and learning join through their step functions; an exception inside one is logged and
recorded in the digest, and never costs the transcript.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.chat import faults, roundtables, run_params, spend
from amatelier.chat import messages as msgs
from amatelier.debate import recording, replay, resume
from amatelier.debate import steward_turns as steward_hooks
from amatelier.debate.after import (  # noqa: F401
    RunResult,  # noqa: F401
    _after_debate,
    _log_traceback,
    _note_interrupted,
    write_digest,
    write_latest_result,
)
from amatelier.debate.instructions import budget_status, instructions  # noqa: F401
from amatelier.debate.interrupts import (  # noqa: F401
    CeilingStop,
    RoundtableAborted,
    RoundtableInterrupted,
    _held_signals,
    _raise_terminated,
)
from amatelier.debate.planning import (  # noqa: F401
    Plan,
    RunOptions,
    _bounded,
    _check_range,
    parse_workers,
    plan_roundtable,
    resolve_briefing,
    worker_models,
)
from amatelier.debate.procs import WorkerPool
from amatelier.debate.rounds import MAX_DEFERRALS_PER_PHASE, NAOMI, Runner, _stderr  # noqa: F401
from amatelier.economy import settle as economy_hooks
from amatelier.errors import UserError
from amatelier.learning import debrief as learning_hooks
from amatelier.search.precedents import give_precedents, given_precedents
from amatelier.search.precedents import settings as precedent_count
from amatelier.state import RoundtableState

CLOSE_GRACE_S = 3.0


# --------------------------------------------------------------------------- the run


def _cut_orphans(conn: Any, warn: Callable[[str], None]) -> None:
    for rt_id, reason in roundtables.cut_orphans(conn):
        warn(f"amatelier: note: roundtable {rt_id} was left open by a dead runner; marked cut ({reason}); "
             f"continue it with `amatelier roundtable --resume {rt_id}`")


def _new_state(plan: Plan, opts: RunOptions, conn: Any, rt_id: str) -> RoundtableState:
    return RoundtableState(
        rt_id=rt_id, topic=opts.topic.strip(), briefing_text=plan.briefing_text,
        briefing_path=plan.briefing_path, launch_dir=Path(opts.launch_dir), workers=list(plan.workers),
        judge=plan.judge, config=plan.config, conn=conn, mode=plan.mode, max_rounds=plan.max_rounds,
        budget_per_agent=plan.budget, skip_post=opts.skip_post, speaker_timeout_s=plan.speaker_timeout,
        audit_judge=opts.audit_judge, budgets={w: plan.budget for w in plan.workers},
    )


def _new_runner(plan: Plan, opts: RunOptions, state: RoundtableState, progress: Any,
                warn: Callable[[str], None], starter: Any = None) -> Runner:
    pool = WorkerPool(state.rt_id, paths.user_logs_dir(),
                      max_restarts=int(plan.config.get("roundtable", {}).get("max_worker_restarts", 2)),
                      starter=starter)
    runner = Runner(plan, opts, state, pool, progress=progress, warn=warn)
    announce = getattr(progress, "started", None)
    if announce is not None:
        announce(state.rt_id)
    return runner


def warm_starter(plan: Plan) -> Any:
    """A started WarmStarter (SDKs imported, zygote forked), or None (config off, no os.fork)."""
    from amatelier.debate.warm import WarmStarter, warm_available

    if not plan.config.get("roundtable", {}).get("warm_workers", True) or not warm_available():
        return None
    backends = sorted({m["backend"] for m in worker_models(plan.config, plan.mode, plan.workers,
                                                           plan.judge).values()})
    try:
        starter = WarmStarter(backends, worker_module="amatelier.debate.worker")
        starter.start()
    except Exception:  # noqa: BLE001 - without the zygote workers start as commands
        return None
    return starter


def run_roundtable(opts: RunOptions, *, progress: Any = None,
                   warn: Callable[[str], None] = _stderr) -> RunResult:
    """Run a whole roundtable and return its digest (exit_code 1 when it was cut)."""
    from amatelier.chat.db import open_db

    plan = plan_roundtable(opts)
    for line in plan.warnings:
        warn(f"amatelier: warning: {line}")
    starter = warm_starter(plan)  # imports the SDKs once and forks the zygote, before the DB opens
    conn = open_db()
    _cut_orphans(conn, warn)
    participants = [*plan.workers, plan.judge]
    recording.check_rt_id(opts.rt_id, lambda wanted: roundtables.get_roundtable(conn, wanted) is not None)
    rt_id = roundtables.open_roundtable(conn, opts.topic.strip(), participants, runner_pid=os.getpid(),
                                        rt_id=opts.rt_id)
    if opts.benchmark:
        roundtables.mark_benchmark(conn, rt_id, opts.batch_id, opts.persona_set)
    state = _new_state(plan, opts, conn, rt_id)
    if plan.limits is not None:
        spend.set_limits(conn, rt_id, plan.limits)
    runner = _new_runner(plan, opts, state, progress, warn, starter)
    seed = recording.run_seed(opts.seed)
    recording.open_recorder(runner, seed, worker_models(plan.config, plan.mode, plan.workers, plan.judge))

    def opening() -> None:
        """Briefing, steward, boosts, fees, workers, research window, speaking order."""
        msgs.post(conn, rt_id, "runner", f"BRIEFING:\n\n{plan.briefing_text.strip()}", kind="briefing")
        given = runner.seam("precedents", give_precedents, conn, rt_id, state.topic, plan.briefing_text,
                            precedent_count(plan.config, opts.no_precedents or opts.benchmark), default=[])
        state.notes["precedents"] = list(given or [])
        runner.seam("steward_hooks.setup", steward_hooks.setup, state)
        if not opts.benchmark:  # a benchmark run pays no fees, buys nothing, syncs no memory
            runner.seam("economy_hooks.before_open", economy_hooks.before_open, state)
            runner.seam("learning_hooks.before_open", learning_hooks.before_open, state)
        state.budget_start = dict(state.budgets)
        if not opts.benchmark:
            runner.seam("economy_hooks.on_open", economy_hooks.on_open, state)
        runner.pool.start_all(participants)
        state.current_phase = "RESEARCH"
        runner.seam("steward_hooks.research_window", steward_hooks.research_window, state)
        order = list(state.workers)
        random.Random(seed).shuffle(order)  # the recorded seed replays the same order
        ordered = order if opts.benchmark else runner.seam(
            "economy_hooks.order_speakers", economy_hooks.order_speakers, state, list(order), default=order)
        if not isinstance(ordered, list) or sorted(ordered) != sorted(order):
            ordered = order
        state.speaking_order = ordered
        msgs.post(conn, rt_id, "runner", "SPEAKING ORDER: " + ", ".join(ordered), kind="system")
        runner.seam("run_params.save", run_params.save, conn, rt_id, resume.params_of(
            state, plan, opts, worker_models(state.config, state.mode, state.workers, state.judge)))

    return _drive(runner, opts, opening, progress, warn, starter)


def resume_roundtable(rt_id: str, *, progress: Any = None,
                      warn: Callable[[str], None] = _stderr) -> RunResult:
    """Continue a roundtable whose runner died or that was cut, from its first unanswered turn."""
    from amatelier.chat.db import open_db
    from amatelier.config import load_config

    conn = open_db()
    _cut_orphans(conn, warn)
    _, params = resume.resumable(conn, rt_id)
    plan, opts = resume.plan_from_params(params, load_config())
    drift = resume.model_drift(params.get("models") or {},
                               worker_models(plan.config, plan.mode, plan.workers, plan.judge))
    for line in drift:
        warn(f"amatelier: warning: the config changed since this roundtable began ({line})")
    gap = replay.gap_seconds(conn, rt_id)
    if not roundtables.reopen_roundtable(conn, rt_id, runner_pid=os.getpid()):
        raise UserError(f"roundtable {rt_id} is no longer cut (another runner resumed it)")
    count = run_params.count_resume(conn, rt_id)
    state = _new_state(plan, opts, conn, rt_id)
    state.budget_start = {w: int(v) for w, v in (params.get("budget_start") or {}).items()}
    state.budgets = dict(state.budget_start)
    state.speaking_order = list(params["speaking_order"])
    runner = _new_runner(plan, opts, state, progress, warn)  # ceilings persist in rt_ceilings
    runner.replay = replay.Replay.load(conn, rt_id)
    runner.resume_note = {"gap_s": gap, "resumes": count}
    recording.open_recorder(runner, None, worker_models(plan.config, plan.mode, plan.workers, plan.judge),
                            resumed=True)
    warn(f"amatelier: resuming roundtable {rt_id} after {gap:g}s "
         f"({runner.replay.pending} turns already answered are kept)")

    def opening() -> None:
        """Steward and workers again; fees already refunded by the cut are charged back."""
        msgs.post(conn, rt_id, "runner", f"ROUNDTABLE RESUMED (#{count}) after {gap:g}s; continuing "
                  "from the first turn that did not complete", kind="system")
        state.notes["precedents"] = runner.seam("precedents", given_precedents, conn, rt_id, default=[]) or []
        runner.seam("steward_hooks.setup", steward_hooks.setup, state)
        runner.seam("learning_hooks.before_open", learning_hooks.before_open, state)
        runner.seam("economy_hooks.on_resume", economy_hooks.on_resume, state)
        runner.pool.start_all([*plan.workers, plan.judge])

    return _drive(runner, opts, opening, progress, warn)


def _drive(runner: Runner, opts: RunOptions, opening: Callable[[], None], progress: Any,
           warn: Callable[[str], None], starter: Any = None) -> RunResult:
    """Open (as `opening` says), run the rounds, close or cut, then the after-debate steps."""
    pool, conn, rt_id = runner.pool, runner.state.conn, runner.state.rt_id
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated)
    cut_reason: str | None = None
    close_fault: str | None = None
    exit_code = 0
    try:
        try:
            opening()
            runner.debate()
        except KeyboardInterrupt:
            raise RoundtableInterrupted("keyboard interrupt") from None
        except CeilingStop as exc:  # closed, not cut: what was said stands and is digested
            runner.state.stop_reason = exc.reason
            msgs.post(conn, rt_id, "runner", f"ROUNDTABLE STOPPED: {exc.reason}", kind="system",
                      round=runner.state.current_round or None)
            runner.seam("steward_hooks.drain", steward_hooks.drain, runner.state)
    except RoundtableInterrupted as exc:
        cut_reason = exc.reason
        exit_code = 1
    except RoundtableAborted as exc:
        cut_reason = str(exc)
        exit_code = 1
    except Exception as exc:  # noqa: BLE001 - a runner bug must still cut cleanly and keep the transcript
        exit_code = 1
        if faults.is_fault(exc):  # a full disk or a lost workspace mid-debate: say that, in one line
            cut_reason = faults.describe(exc, paths.user_db_path())
            warn(f"amatelier: error: {cut_reason}")
        else:
            cut_reason = f"runner error: {type(exc).__name__}: {exc}"
            _log_traceback(rt_id)
            warn(f"amatelier: error: {cut_reason} (traceback in {paths.user_logs_dir() / f'{rt_id}-runner.log'})")
    finally:
        runner.stage("closing")
        with _held_signals() as held_at_close:  # closing and stopping workers always finish
            try:
                if cut_reason is not None:
                    roundtables.cut_roundtable(conn, rt_id, cut_reason)
                elif not roundtables.close_roundtable(conn, rt_id) and roundtables.status(conn, rt_id) == "cut":
                    cut_reason = (roundtables.get_roundtable(conn, rt_id) or {}).get("cut_reason")
            except (sqlite3.Error, OSError) as exc:  # a full disk: the row cannot change, so it stays open
                if not faults.is_fault(exc):
                    raise
                close_fault = faults.describe(exc, paths.user_db_path())
                cut_reason = cut_reason or "the roundtable could not be closed"
                exit_code = 1
            if not pool.wait_all(CLOSE_GRACE_S if cut_reason is None else 0.5):
                pool.stop_all()
            else:
                pool.stop_all(grace=0.0)
            recording.debate_ended(runner, cut_reason)
        # From here on SIGTERM is handled like Ctrl-C: the debate is kept, the extras stop.
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        result = _after_debate(runner, opts, cut_reason, warn,
                               interrupted=bool(held_at_close) and cut_reason is None)
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    if close_fault is not None:
        note = (f"roundtable {rt_id} could not be marked {'cut' if exit_code else 'closed'}: {close_fault}; "
                "it will be marked cut and its entry fees refunded by the next amatelier command")
        result.digest.setdefault("warnings", []).append(note)
        result.digest["pending_cut"] = True
        warn(f"amatelier: {note}")
    with contextlib.suppress(sqlite3.Error):
        conn.close()
    if starter is not None:
        starter.close()
    if progress is not None:
        progress.stop()
    if result.exit_code == 0:
        result.exit_code = exit_code
    return result


