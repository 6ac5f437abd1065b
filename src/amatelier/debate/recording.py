"""The debate's side of telemetry: open the run's recorder and tell it about turns and stages.

Glue only: the runner's plan, turn timings and after-debate steps become the plain values
`amatelier.telemetry` takes, so telemetry never imports the debate. Nothing here can stop a
roundtable: the recorder reports its own failures once as warnings, and a runner without a
recorder (telemetry could not even start) simply records nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from amatelier.telemetry.recorder import RunRecorder, TurnRecord

SEED_ENV = "AMATELIER_SEED"
RT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def run_seed(given: int | None) -> int:
    """The run seed: given, else AMATELIER_SEED, else a fresh random one (recorded either way)."""
    if given is not None:
        return int(given)
    with contextlib.suppress(ValueError):
        return int(os.environ.get(SEED_ENV, "").strip())
    return secrets.randbelow(2**31)


def run_params(plan: Any, opts: Any, models: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The manifest's `params` from the plan (what will actually run) and the options."""
    ceilings = {key: getattr(opts, key, None) for key in ("max_cost_usd", "max_tokens", "max_minutes")}
    return {"workers": list(plan.workers), "judge": plan.judge, "max_rounds": int(plan.max_rounds),
            "budget": int(plan.budget), "speaker_timeout_s": float(plan.speaker_timeout),
            "skip_post": bool(opts.skip_post), "mode": plan.mode, "models": models,
            "ceilings": ceilings, "jury": jury_param(plan.config)}


def jury_param(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The manifest's `params.jury`: the seats config `judging.jury` lists (None: the Judge scores alone).

    Planning already refused a malformed jury; a resumed run reads its config again, and a seat
    broken since then fails in scoring (where it is reported), not here.
    """
    if not ((config or {}).get("judging") or {}).get("jury"):
        return None
    from amatelier.config import ConfigError
    from amatelier.judging.jury import seats_from_config

    try:
        seats = seats_from_config(config or {})
    except ConfigError:
        return None
    return {"seats": [{"seat": s.number, "model": s.model, "backend": s.backend} for s in seats],
            "method": "single" if len(seats) == 1 else "median"}


def open_recorder(runner: Any, seed: int | None, models: dict[str, dict[str, str]], *,
                  resumed: bool = False) -> RunRecorder | None:
    """Start the run's manifest, telemetry file and spans; the debate stage begins.

    A resumed run keeps its manifest (and seed) and appends to its telemetry file.
    """
    plan, opts, state = runner.plan, runner.opts, runner.state
    try:
        recorder = RunRecorder.open(
            run_id=state.rt_id, topic=state.topic, briefing_path=Path(plan.briefing_path),
            params=run_params(plan, opts, models), config=plan.config, batch_id=getattr(opts, "batch_id", None),
            seed=seed, quality_targets=getattr(opts, "quality_targets", None), warn=runner.warn,
            resumed=resumed)
    except Exception as exc:  # noqa: BLE001 - telemetry never stops a roundtable
        runner.warn(f"amatelier: warning: no telemetry for this roundtable: {type(exc).__name__}: {exc}")
        return None
    runner.recorder = recorder
    recorder.stage_start("debate")
    return recorder


def turn_record(outcome: Any, timing: Any | None) -> TurnRecord:
    """A TurnOutcome (and its handoff timing, when the turn ran) as a telemetry TurnRecord."""
    return TurnRecord(agent=outcome.agent, phase=outcome.phase, round=int(outcome.round or 0),
                      status=outcome.status, turn_id=outcome.turn_id, message_id=outcome.message_id,
                      requested=getattr(timing, "requested", None), claimed=getattr(timing, "claimed", None),
                      posted=getattr(timing, "posted", None), seen=getattr(timing, "seen", None))


def on_turn(runner: Any, outcome: Any, timings_before: int) -> None:
    """A turn ended: its event and span, then the model calls made for it."""
    recorder = getattr(runner, "recorder", None)
    if recorder is None:
        return
    timings = runner.driver.timings
    timing = timings[-1] if len(timings) > timings_before else None
    recorder.turn(turn_record(outcome, timing), runner.state.conn)


def on_stability(runner: Any, round_no: int, scores: dict[str, float]) -> None:
    """Per-agent stability of this round's speech against the last one, as metrics."""
    recorder = getattr(runner, "recorder", None)
    if recorder is None:
        return
    for agent, value in scores.items():
        recorder.metric("stability", value, round=round_no, agent=agent)


def debate_ended(runner: Any, cut_reason: str | None) -> None:
    """The round loop is over: calls not yet reported (steward), budgets spent, the debate stage."""
    recorder = getattr(runner, "recorder", None)
    if recorder is None:
        return
    state = runner.state
    recorder.calls(state.conn)
    for agent in state.workers:
        spent = state.budget_start.get(agent, 0) - state.budgets.get(agent, 0)
        recorder.metric("floor_budget_spent", spent, agent=agent)
    recorder.metric("rounds", runner.rounds_run)
    recorder.stage_stop("debate", "error" if cut_reason else "ok", error=cut_reason)


@contextlib.contextmanager
def stage(runner: Any, name: str) -> Iterator[None]:
    """An after-debate step as a telemetry stage: error when it raised or recorded a seam error."""
    recorder = getattr(runner, "recorder", None)
    if recorder is None or not name:
        yield
        return
    errors_before = len(runner.hook_errors)
    recorder.stage_start(name)
    try:
        yield
    except BaseException as exc:
        recorder.calls(runner.state.conn)
        recorder.stage_stop(name, "error", error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        raise
    recorder.calls(runner.state.conn)
    new = runner.hook_errors[errors_before:]
    if new:
        recorder.stage_stop(name, "error", error="; ".join(f"{e['seam']}: {e['error']}" for e in new))
    else:
        recorder.stage_stop(name)


def digest_fields(runner: Any) -> dict[str, Any]:
    """Where this run's machine-readable records are, for the digest."""
    recorder = getattr(runner, "recorder", None)
    batch = getattr(runner.opts, "batch_id", None) or os.environ.get("AMATELIER_BATCH_ID", "").strip() or None
    if recorder is None:
        return {"batch_id": batch}
    return {"run_id": recorder.run_id, "run_dir": str(recorder.run_dir),
            "batch_id": recorder.manifest.data.get("batch_id")}


def finish(runner: Any, digest: dict[str, Any], digest_path: Path | None, *, cut: bool,
           interrupted: bool) -> None:
    """The run is over: artefact paths, the decision (when one was made), the final status."""
    recorder = getattr(runner, "recorder", None)
    if recorder is None:
        return
    recorder.calls(runner.state.conn)
    if isinstance(digest.get("decision"), dict):
        recorder.decision(digest["decision"], path=str(digest_path) if digest_path else None)
    recorder.set_artefact("digest", digest_path)
    export = digest.get("export")
    if isinstance(export, str):
        recorder.set_artefact("export", export)
    recorder.close("cut" if cut or interrupted else "done")


def check_rt_id(value: str | None, taken: Callable[[str], bool]) -> None:
    """A caller-chosen roundtable id (the jobs API's) must be a safe name nobody uses yet."""
    if value is None:
        return
    from amatelier.errors import UserError

    if not RT_ID.match(value):
        raise UserError(f"--rt-id {value!r} must be 1-64 letters, digits, '-' or '_'")
    if taken(value):
        raise UserError(f"--rt-id {value}: a roundtable with that id already exists")
