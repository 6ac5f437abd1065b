"""CLI command `amatelier reliability`: model call health and how far the Judge can be trusted."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from amatelier.commands.errors import EXIT_USAGE, UserError

RELIABILITY_HELP = (
    "Reliability of the models and of the Judge, from this workspace's history.\n\n"
    "Per backend and model: calls, p50/p95/p99 latency, error and retry rates, breaker events. "
    "Per roundtable and over time: jury agreement (Krippendorff's alpha), the order-swap flip rate, "
    "the correlation of words spoken with total score, self-family recusals. Hedged calls: how many, "
    "how often the hedge won, the latency it saved. Read-only; makes no model calls.\n\n"
    "--since N keeps the last N roundtables; --since 7d or 12h keeps a time window."
)


def _fail(message: str, as_json: bool, code: int = EXIT_USAGE) -> NoReturn:
    if as_json:
        print(json.dumps({"error": message, "code": code}), file=sys.stderr)
        raise typer.Exit(code)
    raise UserError(message, code)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def render(report: dict[str, Any]) -> None:
    """Print the report as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    window = report.get("since")
    scope = "all history" if not window else ", ".join(f"last {v} {k}" for k, v in window.items())
    console.print(f"[bold]Reliability[/bold] over {report['roundtables']} roundtable(s) ({scope})")
    calls = Table(title="Model calls", title_justify="left")
    for column in ("backend", "model", "calls", "p50 ms", "p95 ms", "p99 ms", "errors", "retries", "breaker"):
        calls.add_column(column, no_wrap=column != "model", overflow="fold",
                         justify="left" if column in ("backend", "model") else "right")
    for row in report["calls"]:
        lat = row["latency_ms"]
        calls.add_row(row["backend"], row["model"], str(row["calls"]), _num(lat["p50"], 1), _num(lat["p95"], 1),
                      _num(lat["p99"], 1), _pct(row["error_rate"]), _pct(row["retry_rate"]),
                      str(row["breaker_events"]))
    console.print(calls if report["calls"] else "no model calls recorded yet")
    judging = report["judging"]
    table = Table(title="Judging per roundtable", title_justify="left")
    for column in ("rt_id", "seats", "alpha", "flip rate", "length r", "recusals"):
        table.add_column(column, no_wrap=True, justify="left" if column == "rt_id" else "right")
    for row in judging["roundtables"]:
        table.add_row(row["rt_id"], str(row["seats"]), _num(row["alpha"]),
                      _pct(row["flip_rate"]) if row["audited"] else "not audited", _num(row["length_score_r"]),
                      str(row["recusals"]))
    console.print(table if judging["roundtables"] else "no judged roundtables yet")
    length = judging["length_score"]
    console.print(f"alpha mean {_num(judging['alpha']['mean'])} over {judging['alpha']['juried']} juried; "
                  f"flip rate mean {_pct(judging['flip_rate']['mean'])} over {judging['flip_rate']['audited']} "
                  f"audited; words-vs-score r {_num(length['r'])} over {length['pairs']} scores; "
                  f"recusals {judging['recusals']}")
    hedges = report["hedges"]
    console.print(f"hedged calls {hedges['hedged']}: hedge won {hedges['hedge_won']} "
                  f"({_pct(hedges['win_rate'])}), saved {_num(hedges['saved_ms']['total'], 0)} ms in total")


def reliability_command(
    since: str = typer.Option(None, "--since", metavar="N|Nd|Nh",
                              help="Last N roundtables, or a time window (7d, 12h). Default: everything."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """`amatelier reliability`: model call health and judge trust, from the workspace database."""
    from amatelier import paths
    from amatelier.judging import reliability

    try:
        window = reliability.parse_since(since)
    except ValueError as exc:
        _fail(str(exc), as_json)
    db_path = paths.user_db_path()
    if not db_path.is_file():
        _fail(f"no roundtable database yet at {db_path} (run: amatelier roundtable --topic ... --briefing ...)",
              as_json)
    import sqlite3

    from amatelier.chat.db import open_for_reading

    try:
        conn = open_for_reading()
        try:
            report = reliability.build_report(conn, window, paths.user_digest_dir())
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        _fail(f"cannot read the roundtable database {db_path}: {exc}", as_json)
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    render(report)


def register(app) -> None:
    """Add this area's commands to the typer app."""
    app.command("reliability", help=RELIABILITY_HELP)(reliability_command)
