"""After the debate: the digest, then the named steps in order (score and settle, distil, debrief).

Each step is called from one place (`after_debate`); a step that fails is recorded in the digest
(`hook_errors`) and never costs the transcript or the steps after it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import write_json_atomic, write_text_atomic
from amatelier.debate import decision_step, recording
from amatelier.debate import steward_turns as steward_hooks
from amatelier.debate.digest import format_digest_summary
from amatelier.debate.interrupts import RoundtableInterrupted, _held_signals
from amatelier.debate.planning import RunOptions
from amatelier.debate.rounds import Runner
from amatelier.economy import caches as economy_caches
from amatelier.economy import settle as economy_hooks
from amatelier.judging import benchmark as benchmark_scoring
from amatelier.judging import step as judging_step
from amatelier.learning import debrief as learning_hooks
from amatelier.search.precedents import attach_to_decision


@dataclass
class RunResult:
    """The digest, where it was written, and the command's exit code."""

    digest: dict[str, Any]
    digest_path: Path
    exit_code: int = 0


@dataclass(frozen=True)
class Step:
    """One named after-debate step: the progress stage it shows, the label its failures carry."""

    stage: str
    label: str
    run: Callable[[Any, dict[str, Any]], Any]
    record: str = ""  # the run manifest's stage (telemetry): scoring, settlement, distillation, ...


# The after-debate pipeline, in order. Each entry looks its function up at call time, so a
# subsystem can be swapped (or a test can watch it) by replacing the module attribute.
AFTER_CLOSE: tuple[Step, ...] = (
    Step("scoring", "judging.score",                          # the jury scores; audits; judging_results
         lambda state, digest: judging_step.score(state, digest), record="scoring"),
    Step("scoring", "economy_hooks.after_close",              # economy settles on the scores
         lambda state, digest: economy_hooks.after_close(state, digest), record="settlement"),
    Step("distilling", "learning_hooks.after_close",          # skills from the transcript
         lambda state, digest: learning_hooks.after_close(state, digest), record="distillation"),
)
# A benchmark roundtable (--benchmark) is judged and changes no agent state: this replaces
# AFTER_CLOSE, and AFTER_DIGEST does not run.
BENCHMARK_AFTER_CLOSE: tuple[Step, ...] = (
    Step("scoring", "judging.benchmark.score_only",           # scores kept in the digest only
         lambda state, digest: benchmark_scoring.score_only(state, digest), record="scoring"),
)
AFTER_DIGEST: tuple[Step, ...] = (                            # unless --skip-post
    Step("post", "learning_hooks.post",                       # therapist debriefs, memory, analytics
         lambda state, digest: learning_hooks.post(state, digest), record="debrief"),
    Step("post", "economy_hooks.after_post",                  # boosts consumed, variance flags
         lambda state, digest: economy_hooks.after_post(state, digest)),
)

FINAL: tuple[Step, ...] = (                                   # always, also after a cut or Ctrl-C
    Step("caches", "economy.caches",                          # metrics.json, leaderboard.json = ledger
         lambda state, digest: economy_caches.after_roundtable(state, digest)),
)


def run_steps(runner: Runner, steps: tuple[Step, ...], digest: dict[str, Any]) -> None:
    """Run steps in order; a dict a step returns is merged into the digest."""
    for step in steps:
        runner.stage(step.stage)
        with recording.stage(runner, step.record):
            merged = runner.seam(step.label, step.run, runner.state, digest, default={})
        if isinstance(merged, dict):
            digest.update(merged)


def write_digest(digest: dict[str, Any], rt_id: str, hook_errors: list[dict[str, str]]) -> Path:
    """Write digest-<rt_id>.json atomically (with any seam errors).

    A full or read-only disk does not lose the digest: it stays in memory (the command prints
    it) and a `warnings` entry says it could not be saved.
    """
    if hook_errors:
        digest["hook_errors"] = list(hook_errors)
    path = paths.user_digest_dir() / f"digest-{rt_id}.json"
    try:
        write_json_atomic(path, digest)
    except OSError as exc:
        _unsaved(digest, path, exc)
    return path


def write_latest_result(digest: dict[str, Any], digest_path: Path) -> Path:
    """Write latest-result.md: the human summary of the latest roundtable (best effort on a full disk)."""
    path = paths.user_digest_dir() / "latest-result.md"
    body = ["# Latest roundtable result", "", "```text", format_digest_summary(digest, str(digest_path)),
            "```", ""]
    with contextlib.suppress(OSError):
        write_text_atomic(path, "\n".join(body))
    return path


def _unsaved(digest: dict[str, Any], path: Path, exc: OSError) -> None:
    note = f"digest not saved to {path}: {exc.strerror or exc}; it is printed on stdout only"
    warnings = digest.setdefault("warnings", [])
    if note not in warnings:
        warnings.append(note)


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


def _decision_first(digest: dict[str, Any], decided: Any) -> dict[str, Any]:
    """The digest with the decision keys right after topic and rt_id (what a reader wants first)."""
    if not isinstance(decided, dict) or not decided:
        return digest
    head = {k: digest[k] for k in ("topic", "rt_id") if k in digest}
    return {**head, **decided, **{k: v for k, v in digest.items() if k not in head}}


def _after_debate(runner: Runner, opts: RunOptions, cut_reason: str | None,
                  warn: Callable[[str], None], *, interrupted: bool = False) -> RunResult:
    """Digest, judge scoring and distilling, then (unless --skip-post) the post steps.

    Ctrl-C or SIGTERM here keeps the debate and its digest and skips the remaining steps
    (exit 1); the digest and latest-result.md are always written. A benchmark run (opts.benchmark)
    is only scored (BENCHMARK_AFTER_CLOSE) and its digest says so under `benchmark`.
    """
    state = runner.state
    rt_id = state.rt_id
    decided: dict[str, Any] = {}
    runner.stage("decision")  # first: it needs only the debate, and a cut one needs it most

    def decide(ask_chair: bool) -> Any:
        if state.stop_reason and cut_reason is None:  # a ceiling stopped the debate: the decision
            # still gets written, its chair call (role "decision") using the reserved share
            return runner.seam("decision_step.decide", lambda: decision_step.decide(
                state, stop_reason=state.stop_reason, partial=True, warn=warn, ask_chair=ask_chair),
                default={})
        return runner.seam("decision_step.after_debate", lambda: decision_step.after_debate(
            state, rounds_run=runner.rounds_run, cut_reason=cut_reason, warn=warn, ask_chair=ask_chair),
            default={})

    try:
        with recording.stage(runner, "decision"):
            decided = decide(ask_chair=not interrupted)
    except (KeyboardInterrupt, RoundtableInterrupted):  # outside the chair call: no chair, then
        interrupted = interrupted or cut_reason is None
        with _held_signals():
            decided = decide(ask_chair=False)
    interrupted = interrupted or (decision_step.was_interrupted(decided) and cut_reason is None)
    with _held_signals() as held:
        runner.stage("digest")
        digest = _decision_first(runner.digest(), decided)
    interrupted = interrupted or bool(held)
    if opts.benchmark:
        digest["benchmark"] = {"batch_id": opts.batch_id, "run": opts.batch_run, "persona_set": opts.persona_set}
    if cut_reason is None and not interrupted:
        try:
            run_steps(runner, BENCHMARK_AFTER_CLOSE if opts.benchmark else AFTER_CLOSE, digest)
        except (KeyboardInterrupt, RoundtableInterrupted):  # only the extras are cut short
            interrupted = True
    if interrupted:
        _note_interrupted(digest, warn)
    with _held_signals() as held:
        # The decision record lists the precedents this roundtable was given, with its stance on each.
        runner.seam("precedents", attach_to_decision, state.conn, rt_id, digest,
                    state.notes.get("precedents") or [], default={})
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
    if cut_reason is None and not opts.skip_post and not interrupted and not opts.benchmark \
            and state.stop_reason:
        # A ceiling stopped the debate: only the decision may still call a model, so the
        # debriefs would each be refused; say so once instead.
        digest.setdefault("warnings", []).append(
            "post-roundtable steps (therapist debriefs, upkeep) skipped: the debate stopped on a ceiling")
        with _held_signals():
            digest_path = write_digest(digest, rt_id, runner.hook_errors)
    elif cut_reason is None and not opts.skip_post and not interrupted and not opts.benchmark:
        before = json.dumps(digest, sort_keys=True, default=str)
        try:
            run_steps(runner, AFTER_DIGEST, digest)
        except (KeyboardInterrupt, RoundtableInterrupted):
            interrupted = True
            _note_interrupted(digest, warn)
        with _held_signals():
            runner.refresh_usage(digest)
            if json.dumps(digest, sort_keys=True, default=str) != before or runner.hook_errors:
                digest_path = write_digest(digest, rt_id, runner.hook_errors)
    if not opts.benchmark:  # latest-result.md is the user's latest roundtable, not a batch's
        with _held_signals():  # everything is done; a signal now has nothing left to stop
            # After the last step that can move sparks (fees at open, scores, the debrief's
            # purchases, boosts): at rest every cache equals the ledger (a benchmark run moves none).
            run_steps(runner, FINAL, digest)
            page = runner.seam("decision_step.export_page", decision_step.export_page, state, default=None)
            if isinstance(page, str):  # the page a person reads (amatelier export writes the same)
                digest["export"] = page
            digest_path = write_digest(digest, rt_id, runner.hook_errors)
            write_latest_result(digest, digest_path)
    with _held_signals():
        recording.finish(runner, digest, digest_path, cut=cut_reason is not None, interrupted=interrupted)
    return RunResult(digest=digest, digest_path=digest_path, exit_code=1 if interrupted else 0)


