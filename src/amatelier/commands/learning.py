"""CLI commands for the learning area: `amatelier therapist` and `amatelier analytics`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from amatelier.commands.errors import UserError

# One line per paragraph: --help reflows each paragraph to the terminal's width.
THERAPIST_HELP = (
    "Debrief workers after a roundtable: a short private interview per agent.\n\n"
    "Reads the roundtable's digest, runs --turns exchanges between the therapist and each agent, "
    "applies the outcomes (learned behaviours, memory, goals, store requests) and writes "
    "agents/<name>/sessions/<rt_id>.md plus roundtable-server/therapist-report-<rt_id>.md."
)

ANALYTICS_HELP = (
    "Growth analytics: score trends, streaks, phase, budget, therapist, economy.\n\n"
    "Without AGENT: every roundtable and one row per agent. With AGENT: that agent's report."
)


def _text(value: str) -> str:
    """A topic or a model's words in a rich table: shown as written, never read as markup."""
    from rich.markup import escape

    return escape(value)


def _resolve_digest(value: str) -> Path:
    from amatelier import paths

    path = Path(value).expanduser()
    if path.exists():
        return path
    candidate = paths.user_digest_dir() / f"digest-{value}.json"
    if candidate.exists():
        return candidate
    raise UserError(f"digest not found: {value} (give a path or a roundtable id)")


def therapist_command(
    digest: str = typer.Option(..., "--digest", help="Path to digest-<rt_id>.json (or just the rt_id)."),
    agents: str = typer.Option("", "--agents", help="Comma-separated agents (default: the roundtable's workers)."),
    turns: int = typer.Option(None, "--turns", show_default=False,
                              help="Exchanges per agent, 1-5; the last is the close (default: config therapist.turns, 2)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """`amatelier therapist`: debrief workers after a roundtable."""
    from amatelier.learning import therapist

    if turns is None:
        from amatelier.config import load_config

        turns = int(load_config().get("therapist", {}).get("turns", therapist.DEFAULT_TURNS))
    if not 1 <= turns <= therapist.MAX_TURNS:
        raise UserError(f"--turns must be between 1 and {therapist.MAX_TURNS}, got {turns}")
    path = _resolve_digest(digest)
    try:
        data = therapist.load_digest(path)
    except therapist.DigestError as exc:
        raise UserError(str(exc)) from None
    from amatelier.config import load_config

    in_digest = therapist.digest_workers(data)
    names = [a.strip() for a in agents.split(",") if a.strip()] or in_digest
    if not names:
        raise UserError(f"digest {path} names no workers; pass --agents")
    bad = [n for n in names if not therapist.SAFE_NAME.fullmatch(n)]
    if bad:
        raise UserError(f"not an agent name: {bad[0]!r}")
    # Only real workers are debriefed: a typo must not create a new agent's files.
    known = set(in_digest) | set(load_config().get("team", {}).get("workers", {}))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown agent '{unknown[0]}' (workers: {', '.join(sorted(known)) or 'none'})")

    from rich.console import Console
    from rich.table import Table

    from amatelier.chat.db import open_db
    from amatelier.economy.caches import refresh_quietly
    from amatelier.learning.text import clip

    console = Console(stderr=as_json)
    conn = open_db()
    try:
        with console.status(f"debriefing {len(names)} agent(s) after {data['rt_id']}…"):
            run = therapist.run_therapist(
                data, names, turns, conn=conn,
                on_session=lambda s: console.print(
                    f"  {s.agent}: {'complete' if s.complete else 'incomplete — ' + str(s.error)}"))
        refresh_quietly(conn, load_config())   # store purchases moved sparks: caches follow the ledger
    finally:
        conn.close()
    if as_json:
        print(json.dumps(run.to_dict(), indent=2, ensure_ascii=False, default=str))
        return
    table = Table(title=f"Therapist — roundtable {run.rt_id}")
    for column in ("agent", "status", "behaviours", "goals", "store", "summary"):
        table.add_column(column, overflow="fold")
    for s in run.sessions:
        applied = s.applied or {}
        behaviours = ", ".join(f"{b['action']}→{b.get('result')}" for b in applied.get("behaviors", [])) or "-"
        goals = str(len(applied.get("goals", [])))
        store = (applied.get("store_request") or {}).get("status", "-") if applied.get("store_request") else "-"
        status = "complete" if s.complete else "incomplete"
        table.add_row(s.agent, status, behaviours, goals, store, _text(clip(applied.get("session_summary") or "", 160)))
    console.print(table)
    for s in run.sessions:
        applied = s.applied or {}
        if applied.get("relegation"):
            rel = applied["relegation"]
            console.print(f"{s.agent}: relegation choice {rel.get('choice') or 'none'} — {rel.get('status')}")
        if applied.get("requests_addressed"):
            console.print(f"{s.agent}: private requests addressed: {', '.join(applied['requests_addressed'])}")
    console.print(f"report: {run.report_path}")
    if any(not s.complete for s in run.sessions):
        console.print("[yellow]some sessions were incomplete; what they decided was applied[/yellow]")


def _table(title: str, caption: str | None = None):
    """A compact table (no outer border) so the analytics fit an 80-column terminal."""
    from rich import box
    from rich.table import Table

    return Table(title=title, caption=caption, title_justify="left", box=box.SIMPLE_HEAD,
                 pad_edge=False, show_edge=False)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _axis(name: str | None) -> str:
    """Axis names in three letters, so the agents table fits an 80-column terminal."""
    return name[:3] if name else "-"


def _agent_table(report: dict[str, Any]):
    from amatelier.learning.analytics import sparkline

    table = _table(f"{report['agent']} — scores by axis")
    for column in ("axis", "trend", "mean", "latest", "direction"):
        table.add_column(column)
    for axis, series in report["dimension_trends"].items():
        table.add_row(axis, sparkline(series["values"]) or "-", _num(series["mean"]), _num(series["latest"]),
                      series["trend"])
    total = report["total_trend"]
    table.add_row("[bold]total[/bold]", sparkline(total["values"]) or "-", _num(total["mean"]),
                  _num(total["latest"]), total["trend"])
    return table


def analytics_command(
    agent: str = typer.Argument(None, help="Agent to report on (default: everyone)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """`amatelier analytics`: growth analytics, tables or JSON."""
    from amatelier.chat.db import open_for_reading
    from amatelier.learning import analytics

    conn = open_for_reading()
    try:
        digests = analytics.load_all_digests()
        known = set(analytics.report_agents(digests)) | set(analytics.load_workers())
        if agent and agent not in known:
            raise UserError(f"unknown agent '{agent}' (known: {', '.join(sorted(known)) or 'none'})")
        data = analytics.agent_report(agent, conn, digests) if agent else analytics.overview(conn, digests)
    finally:
        conn.close()
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return

    from rich.console import Console

    console = Console()
    if agent:
        console.print(_agent_table(data))
        console.print(analytics.format_report_text(data))
        return
    if not data["roundtables"]:
        console.print("no roundtables yet — run: amatelier roundtable --topic ... --briefing ...")
        return
    rts = _table(f"Roundtables ({len(data['roundtables'])})")
    for column in ("rt_id", "topic", "ended", "rounds", "converged", "skills"):
        rts.add_column(column, overflow="fold", no_wrap=column != "topic")
    for rt in data["roundtables"]:
        converged = {True: "yes", False: "no"}.get(rt["converged"], "-")
        rts.add_row(str(rt["rt_id"]), _text(str(rt["topic"] or "")[:60]), str(rt["ended_at"] or "-"),
                    _num(rt["rounds"]), converged, _num(rt["skills_distilled"]))
    console.print(rts)
    agents = _table("Agents", caption="avg = mean Judge total; best/worst axis: nov(elty), acc(uracy), "
                    "imp(act), cha(llenge); sess = therapist sessions; beh = active learned behaviours")
    for column in ("agent", "RTs", "avg", "trend", "phase", "best", "worst", "sparks", "sess", "beh"):
        agents.add_column(column, no_wrap=True,
                          justify="right" if column in ("RTs", "avg", "sparks", "sess", "beh") else "left")
    for name, report in data["agents"].items():
        total = report["total_trend"]
        agents.add_row(
            name, str(len(report["roundtables"])), _num(total["mean"]),
            f"{analytics.sparkline(total['values'][-8:])} {total['trend']}".strip(), report["phase"]["phase"],
            _axis(report["strengths"]["strongest"]), _axis(report["strengths"]["weakest"]),
            _num(report["economy"]["balance"]),
            str(report["therapist"]["sessions"]), str(report["therapist"]["active_behaviors"]))
    console.print(agents)
    econ = data["economy"]
    console.print(f"economy ({econ['source']}): earned {_num(econ['total_earned'])}, "
                  f"spent {_num(econ['total_spent'])}, circulating {_num(econ['circulating'])}, "
                  f"top earner {econ['top_earner'] or '-'}")


def register(app) -> None:
    """Add this area's commands to the typer app."""
    app.command("therapist", help=THERAPIST_HELP)(therapist_command)
    app.command("analytics", help=ANALYTICS_HELP)(analytics_command)
