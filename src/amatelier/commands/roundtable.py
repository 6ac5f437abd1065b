"""CLI commands for the roundtable area: `amatelier roundtable` and `amatelier watch`."""

from __future__ import annotations

import json
import sys

import typer

from amatelier.commands.errors import UserError


def roundtable(
    topic: str = typer.Option(..., "--topic", metavar="TEXT", help="The question the roundtable debates."),
    briefing: str = typer.Option(..., "--briefing", metavar="PATH",
                                 help="Briefing markdown: looked up under <user data>/roundtable-server/ "
                                      "first, then as a path."),
    workers: str | None = typer.Option(None, "--workers", metavar="CSV",
                                       help="Comma-separated agents (default: config team.default_workers "
                                            "plus naomi)."),
    max_rounds: int | None = typer.Option(None, "--max-rounds", metavar="N", help="Most rounds to run (default: config roundtable.max_rounds, 3)."),
    skip_naomi: bool = typer.Option(False, "--skip-naomi", help="Leave Naomi (Gemini) out."),
    speaker_timeout: int | None = typer.Option(None, "--speaker-timeout", metavar="SECONDS",
                                               help="Seconds a speaker gets before 'did not respond' "
                                                    "(default: roundtable.speaker_timeout_s, 200)."),
    budget: int | None = typer.Option(None, "--budget", metavar="N", help="Floor contributions per agent for the whole roundtable "
                                                                   "(default: roundtable.budget_per_agent, 3)."),
    skip_post: bool = typer.Option(False, "--skip-post",
                                   help="Stop after scoring and distillation: no therapist, no cleanup."),
    summary: bool = typer.Option(False, "--summary", help="Print a human summary instead of the digest JSON."),
) -> None:
    """Run a structured debate between persona agents and print its digest."""
    from amatelier.debate import progress as progress_mod
    from amatelier.debate.digest import format_digest_summary
    from amatelier.debate.runner import RunOptions, parse_workers, run_roundtable

    opts = RunOptions(topic=topic, briefing=briefing, workers=parse_workers(workers),
                      max_rounds=max_rounds, skip_naomi=skip_naomi,
                      speaker_timeout=float(speaker_timeout) if speaker_timeout is not None else None,
                      budget=budget, skip_post=skip_post)
    display = progress_mod.RunnerProgress(topic) if progress_mod.wanted() else None
    try:
        result = run_roundtable(opts, progress=display)
    finally:
        if display is not None:
            display.stop()
    if summary:
        print(format_digest_summary(result.digest, str(result.digest_path)))
    else:
        print(json.dumps(result.digest, indent=2, ensure_ascii=False))
    sys.stdout.flush()
    if result.exit_code:
        digest = result.digest
        if digest.get("status") == "cut":
            print(f"amatelier: roundtable {digest.get('rt_id')} was cut ({digest.get('cut_reason')}); "
                  f"every worker was stopped; what was said is kept in {result.digest_path}",
                  file=sys.stderr, flush=True)
        raise typer.Exit(result.exit_code)


def watch(
    rt: str | None = typer.Option(None, "--rt", metavar="ID", help="Roundtable id (default: the one running now; with "
                                                     "none running, wait for the next to start)."),
    from_start: bool = typer.Option(False, "--from-start", help="Replay the roundtable from its first message."),
    once: bool = typer.Option(False, "--once", help="Print what exists now and exit (default: the latest "
                                                    "roundtable, finished or not)."),
) -> None:
    """Tail a roundtable live (read-only; costs no LLM calls). Ends when it closes."""
    from amatelier import watch as watch_mod

    try:
        code = watch_mod.run(rt, from_start=from_start, once=once)
    except watch_mod.NoDatabase as exc:
        raise UserError(str(exc)) from None
    except LookupError as exc:
        raise UserError(str(exc.args[0] if exc.args else exc)) from None
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def register(app) -> None:
    """Add this area's commands to the typer app."""
    app.command("roundtable")(roundtable)
    app.command("watch")(watch)
