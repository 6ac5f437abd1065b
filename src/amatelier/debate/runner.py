"""The roundtable runner: one process that opens a roundtable, runs its rounds and digests it.

Read it top-down: `run_roundtable` plans (debate.planning), opens the roundtable and its workers,
runs the rounds (`Runner.debate` in debate.rounds: SPEAK → REBUTTAL → GATE → FLOOR → health
audit, per round), closes or cuts it, then hands over to the after-debate pipeline
(debate.after: digest, then the named steps score → settle → distil → debrief). The steward,
economy and learning join through their step functions; an exception inside one is logged and
recorded in the digest, and never costs the transcript.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.chat import messages as msgs
from amatelier.chat import roundtables
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
from amatelier.learning import debrief as learning_hooks
from amatelier.state import RoundtableState

CLOSE_GRACE_S = 3.0


# --------------------------------------------------------------------------- the run


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


