"""What a command prints on success: JSON for scripts (`--json`), a line or a table for people.

One place for the shapes every command shares, so `--json` output is written the same way
everywhere (indented, non-ASCII kept) and listings look alike.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer

JSON_HELP = "Print JSON for scripts instead of a table."
#: the `--json` flag of every command that prints a result (one definition, one help text)
JSON_OPTION = typer.Option(False, "--json", help=JSON_HELP)


def print_json(data: Any) -> None:
    """The result as indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def emit(data: Any, line: str, as_json: bool) -> None:
    """The result as JSON (`--json`) or as one line for people."""
    if as_json:
        print_json(data)
    else:
        typer.echo(line)


def console() -> Any:
    """A rich console for tables: the terminal's width, or wide enough not to cut ids in a pipe."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)


def print_listing(rows: list[dict[str, Any]], as_json: bool, *, empty: str, columns: Sequence[str],
                  cells: Callable[[dict[str, Any]], Sequence[str]]) -> None:
    """A listing: the rows as JSON, `empty` when there are none, else a table of `cells(row)`."""
    if as_json:
        print_json(rows)
        return
    if not rows:
        print(empty)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:  # cells hold user and model text (suite names, notes): never rich markup
        table.add_row(*(escape(str(cell)) for cell in cells(row)))
    console().print(table)
