"""CLI commands for the roundtable area: `amatelier roundtable` and `amatelier watch`."""

from __future__ import annotations

import json
import sys

import typer

from amatelier.commands.errors import UserError


def roundtable(
    topic: str | None = typer.Option(None, "--topic", metavar="TEXT",
                                     help="The question the roundtable debates (required unless --resume)."),
    briefing: str | None = typer.Option(None, "--briefing", metavar="PATH",
                                        help="Briefing markdown: looked up under <user data>/roundtable-server/ "
                                             "first, then as a path (required unless --resume)."),
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
    audit_judge: bool = typer.Option(False, "--audit-judge",
                                     help="Always re-score once with the workers in reverse order and report the "
                                          "Judge's flip rate (default: a sampled share, judging.swap_audit_share)."),
    summary: bool = typer.Option(False, "--summary", help="Print a human summary instead of the digest JSON."),
    max_cost_usd: float | None = typer.Option(
        None, "--max-cost-usd", metavar="USD",
        help="Never spend more than this on the roundtable; stops before a call that could pass it, "
             "keeping 10% for the closing decision (default: roundtable.ceilings.max_cost_usd; 0: none)."),
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", metavar="N",
        help="Ceiling on input (cached included) + output tokens over the roundtable "
             "(default: roundtable.ceilings.max_tokens; 0: none)."),
    max_minutes: float | None = typer.Option(
        None, "--max-minutes", metavar="MIN",
        help="No model call starts after this many minutes (default: roundtable.ceilings.max_minutes; 0: none)."),
    as_json: bool = typer.Option(False, "--json", help="Print the digest JSON (the default output) and report "
                                                       "errors as one JSON object on stderr."),
    rt_id: str | None = typer.Option(None, "--rt-id", metavar="ID", hidden=True,
                                     help="Use this roundtable id (the jobs API picks it before starting)."),
    resume: str | None = typer.Option(None, "--resume", metavar="RT_ID",
                                      help="Continue a roundtable whose runner died or that was cut, from "
                                           "the first turn that did not complete (same workers, order, "
                                           "budgets and rounds; no other flag is needed)."),
    pause_for_human: float | None = typer.Option(None, "--pause-for-human", metavar="SECONDS",
                                                 help="After each Judge gate, wait up to SECONDS for a "
                                                      "person's `amatelier say` before going on."),
    benchmark: bool = typer.Option(False, "--benchmark",
                                   help="A benchmark run: judged, but no fees, sparks, scores rows, distillation "
                                        "or therapist (what `amatelier batch` runs)."),
    batch_id: str | None = typer.Option(None, "--batch-id", metavar="ID", help="The batch this benchmark run belongs to."),
    batch_run: str | None = typer.Option(None, "--batch-run", metavar="KEY", help="The run's key in its batch."),
    persona_set: str = typer.Option("current", "--persona-set", metavar="current|seed",
                                    help="With --benchmark: workers read their current personas or the bundled seeds."),
    no_precedents: bool = typer.Option(False, "--no-precedents",
                                       help="Do not show the agents earlier decisions of this team on related "
                                            "questions (default: the best config roundtable.precedents, 3)."),
) -> None:
    """Run a structured debate between persona agents and print its digest."""
    if summary and as_json:
        raise UserError("--summary and --json both choose the output: pass one of them")
    from amatelier.debate import progress as progress_mod
    from amatelier.debate.digest import format_digest_summary
    from amatelier.debate.runner import RunOptions, parse_workers, resume_roundtable, run_roundtable

    if resume is not None:
        given = [flag for flag, value in (("--topic", topic), ("--briefing", briefing), ("--workers", workers),
                                          ("--max-rounds", max_rounds), ("--budget", budget),
                                          ("--rt-id", rt_id))
                 if value is not None]
        if given:
            raise UserError(f"--resume continues the roundtable as it was planned; drop {', '.join(given)}")
    else:
        missing = [flag for flag, value in (("--topic", topic), ("--briefing", briefing)) if value is None]
        if missing:
            raise UserError(f"missing {' and '.join(missing)} (or give --resume RT_ID to continue a roundtable)")
    if pause_for_human is not None and not 0 <= pause_for_human <= 3600:
        raise UserError(f"--pause-for-human must be between 0 and 3600 seconds (got {pause_for_human:g})")
    if resume is not None and benchmark:
        raise UserError("--resume does not take --benchmark (`amatelier batch resume BATCH_ID` re-runs benchmark runs)")
    if (batch_id or batch_run or persona_set != "current") and not benchmark:
        raise UserError("--batch-id, --batch-run and --persona-set need --benchmark")
    if persona_set not in ("current", "seed"):
        raise UserError(f"--persona-set must be current or seed (got {persona_set!r})")
    if batch_id is not None:
        from amatelier.benchmarks.ids import is_batch_id

        if not is_batch_id(batch_id):
            raise UserError(f"not a batch id: {batch_id!r}")
    display = progress_mod.RunnerProgress(topic or f"resuming {resume}") if progress_mod.wanted() else None
    try:
        if resume is not None:
            result = resume_roundtable(resume.strip(), progress=display)
        else:
            opts = RunOptions(topic=topic or "", briefing=briefing or "", workers=parse_workers(workers),
                              max_rounds=max_rounds, skip_naomi=skip_naomi,
                              speaker_timeout=float(speaker_timeout) if speaker_timeout is not None else None,
                              budget=budget, skip_post=skip_post, pause_for_human=pause_for_human,
                              benchmark=benchmark, batch_id=batch_id, batch_run=batch_run,
                              persona_set=persona_set, max_cost_usd=max_cost_usd,
                              max_tokens=max_tokens, max_minutes=max_minutes, no_precedents=no_precedents,
                              rt_id=rt_id, audit_judge=audit_judge)
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
            line = (f"roundtable {digest.get('rt_id')} was cut ({digest.get('cut_reason')}); "
                    f"every worker was stopped; what was said is kept in {result.digest_path}")
            if not digest.get("benchmark"):  # a benchmark run is re-run by `batch resume` instead
                line += f"; continue it with `amatelier roundtable --resume {digest.get('rt_id')}`"
            if as_json:
                print(json.dumps({"error": line, "code": result.exit_code}, ensure_ascii=False),
                      file=sys.stderr, flush=True)
            else:
                print(f"amatelier: {line}", file=sys.stderr, flush=True)
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


def say(
    text: str = typer.Argument(..., metavar="TEXT", help="What you want the agents to know."),
    rt: str | None = typer.Option(None, "--rt", metavar="ID", help="Roundtable id (default: the one running now)."),
    name: str | None = typer.Option(None, "--as", metavar="NAME",
                                    help="Your name at the table (default: your OS user name)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Post a message from you into a live roundtable; every agent sees it in its next turn.

    It never blocks the debate, is shown under a clear label (a person, not a debater), reaches the
    Judge's gate and the decision, and is never scored.
    """
    from amatelier.chat import human
    from amatelier.chat.db import open_db
    from amatelier.config import load_config

    config = load_config()
    team = config.get("team", {})
    agents = [*team.get("workers", {}), *(team.get(role, {}).get("name", role)
                                          for role in ("judge", "therapist", "admin"))]
    conn = open_db()
    try:
        result = human.say(conn, rt, text, name=name, config=config, agents=agents)
    except human.HumanMessageRefused as exc:
        raise UserError(str(exc)) from None
    finally:
        conn.close()
    if as_json:
        print(json.dumps(result))
    else:
        print(f"posted to roundtable {result['rt_id']} as {result['name']} (message #{result['message_id']}); "
              "the agents see it in their next turn")


def register(app) -> None:
    """Add this area's commands to the typer app."""
    app.command("roundtable")(roundtable)
    app.command("watch")(watch)
    app.command("say")(say)
