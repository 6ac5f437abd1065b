"""The `amatelier` command group, built lazily: a command's module is imported when it runs.

Building every command group at start (importing every command module, letting typer
inspect every signature) is most of what `amatelier --help` cost. `LazyGroup` lists the
commands from `COMMANDS` (name, area module, the first paragraph of its help) and
builds an area's real typer commands only when one of them is invoked or asked for its
own help. The listing shows the same text as the eager app (`amatelier.cli.build_app`);
a test renders both and compares them, so the surface cannot drift.

`ROOT_HELP_FILE` holds `amatelier --help` exactly as typer renders it when stdout is not a
terminal (80 columns, no colour); `cli.main` prints it directly in that case, so scripts
and pipes get the help without importing typer or rich at all. `scripts/regen_help.py`
rewrites it and `commands_table.json` (the listing) from the eager app; a test fails when
either is stale. A new command module: add it to `AREAS`, then run the script.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT_HELP_FILE = Path(__file__).with_name("root_help.txt")
APP_HELP = "A roundtable of AI agents that debate a design decision, get scored, and learn."
#: environment variables that change how typer renders help (width, colour, terminal detection)
RENDER_ENV = ("COLUMNS", "TERMINAL_WIDTH", "FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "TTY_COMPATIBLE",
              "TTY_INTERACTIVE", "_TYPER_FORCE_DISABLE_TERMINAL", "TYPER_USE_RICH")


@dataclass(frozen=True)
class Entry:
    """One top-level command: its name, the module that registers it, its help as the listing shows it."""

    name: str
    area: str
    short_help: str
    hidden: bool = False


#: The command modules, in the order they register (the eager app's order). A new area goes here.
AREAS = ("setup", "roundtable", "export", "economy", "learning", "reliability", "mcp", "serve", "batch",
         "snapshot", "team", "search", "agent")
TABLE_FILE = Path(__file__).with_name("commands_table.json")


def load_commands() -> tuple[Entry, ...]:
    """The top-level commands (written by scripts/regen_help.py from the eager app)."""
    try:
        rows = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    return tuple(Entry(row["name"], row["area"], row["help"], bool(row.get("hidden"))) for row in rows)


COMMANDS: tuple[Entry, ...] = load_commands()


def _typer_group_class() -> type:
    from typer.core import TyperCommand, TyperGroup

    class LazyGroup(TyperGroup):
        """A TyperGroup whose subcommands are imported only when used."""

        _areas: dict[str, dict[str, Any]] = {}

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._listing = False
            # Placeholders let click list commands and suggest "did you mean" without imports.
            for entry in COMMANDS:
                self.commands.setdefault(entry.name, TyperCommand(name=entry.name, help=entry.short_help,
                                                                  hidden=entry.hidden))

        def format_help(self, ctx: Any, formatter: Any) -> None:
            self._listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self._listing = False

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            entry = next((e for e in COMMANDS if e.name == cmd_name), None)
            if entry is None:
                return None
            if self._listing or getattr(ctx, "resilient_parsing", False):
                return self.commands.get(cmd_name)
            return area_commands(entry.area).get(cmd_name)

    return LazyGroup


def area_commands(area: str) -> dict[str, Any]:
    """The click commands one area registers (built once per process)."""
    import typer
    import typer.main

    from amatelier.commands.helptext import reflow_help

    cache = _AREA_CACHE
    if area not in cache:
        module = importlib.import_module(f"amatelier.commands.{area}")
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                             context_settings={"help_option_names": ["-h", "--help"]})
        module.register(holder)
        reflow_help(holder)
        group = typer.main.get_group(holder)
        cache[area] = dict(group.commands)
    return cache[area]


_AREA_CACHE: dict[str, dict[str, Any]] = {}


def build_lazy_app(version: str) -> Any:  # -> typer.Typer
    """The `amatelier` app with LazyGroup: same options and commands as the eager app."""
    return new_app(version, lazy=True)


def new_app(version: str, lazy: bool) -> Any:  # -> typer.Typer
    """The `amatelier` app with its root options and no commands (lazy: the LazyGroup class)."""
    import typer

    extra = {"cls": _typer_group_class()} if lazy else {}
    app = typer.Typer(
        name="amatelier",
        help=APP_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        **extra,
    )

    @app.callback()
    def _root(
        version_flag: bool = typer.Option(False, "--version", help="Print the version and exit."),
    ) -> None:
        if version_flag:
            print(f"amatelier {version}")
            raise typer.Exit(0)

    return app


def render_help(app: Any, args: list[str]) -> str:
    """What `amatelier ARGS --help` prints to a pipe (80 columns, no colour), as a string."""
    saved = {name: os.environ.pop(name) for name in RENDER_ENV if name in os.environ}
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            app(args=[*args, "--help"], prog_name="amatelier", standalone_mode=True)
    finally:
        os.environ.update(saved)
    return buffer.getvalue()


def _changes_rendering(name: str) -> bool:
    """Whether the environment variable is set to something other than the stored rendering's."""
    value = os.environ.get(name)
    if value is None:
        return False
    return not (name in ("COLUMNS", "TERMINAL_WIDTH") and value.strip() == "80")


def fast_root_help(args: list[str], stdout: Any) -> str | None:
    """The stored root help when it is exactly what typer would print here, else None."""
    if args not in (["--help"], ["-h"]):
        return None
    isatty = getattr(stdout, "isatty", None)
    if isatty is None or isatty() or any(_changes_rendering(name) for name in RENDER_ENV):
        return None
    try:
        return ROOT_HELP_FILE.read_text(encoding="utf-8")
    except OSError:
        return None
