"""`amatelier search`: find past roundtables by what was said or decided in them."""

from __future__ import annotations

import json
import re
import sqlite3
import sys

import typer

from amatelier.commands.errors import EXIT_USAGE, UserError


def _fail(message: str, as_json: bool) -> None:
    """One line for people, one JSON object on stderr for scripts; exit 2 either way."""
    if as_json:
        print(json.dumps({"error": message, "code": EXIT_USAGE}), file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    raise UserError(message)


def search_command(
    query: str = typer.Argument(..., help="Words to find (FTS5 syntax: AND, OR, NOT, \"exact phrase\", prefix*)."),
    rt: str = typer.Option(None, "--rt", help="Only this roundtable id."),
    agent: str = typer.Option(None, "--agent", help="Only messages by this speaker."),
    kind: str = typer.Option(None, "--kind", help="Only one kind: message, decision or topic."),
    limit: int = typer.Option(10, "--limit", help="How many results (1-200)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Search every past roundtable: messages, decision records, topics and briefings.

    Results are ranked best first, each with its roundtable id, date, speaker, a snippet with the
    matches in **bold**, and the command that opens the roundtable (amatelier export RT_ID).
    """
    from amatelier.chat.db import open_for_reading
    from amatelier.search.query import SearchError, search_payload

    try:
        conn = open_for_reading()
    except sqlite3.Error as exc:
        _fail(f"cannot open the roundtable database: {exc}", as_json)
        return
    try:
        payload = search_payload(conn, query, rt_id=rt, agent=agent, kind=kind, limit=limit)
    except SearchError as exc:
        _fail(str(exc), as_json)
        return
    finally:
        conn.close()
    if as_json:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    hits = payload["results"]
    if not hits:
        typer.echo(f"no roundtable mentions {query!r}")
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    for hit in hits:
        where = hit["kind"] if hit["kind"] != "message" else (
            f"{hit['speaker']} r{hit['round']} {hit['phase'] or ''} #{hit['message_id']}".replace("  ", " "))
        # Text, not markup: a backslash before a match (C:\\name) would escape a markup tag
        snippet = Text("   ")
        for index, part in enumerate(re.split(r"\*\*(.+?)\*\*", hit["snippet"])):
            snippet.append(part, style="bold yellow" if index % 2 else None)
        console.print(Text.assemble((f"{hit['rank']}.", "bold"), " ", (str(hit["rt_id"]), "cyan"),
                                    f" {hit['date']}  {where}  ", (hit["topic"] or "", "dim")))
        console.print(snippet)
        console.print(f"   [dim]{hit['open_with']}[/dim]")


def register(app: typer.Typer) -> None:
    """Add `amatelier search` to the typer app."""
    app.command("search")(search_command)
