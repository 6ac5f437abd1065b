"""The `amatelier` command: parse, call, report. Each area registers its own commands.

Kept thin and lazy: heavy modules (engine, SDKs) are imported inside the command that
needs them, so `amatelier --version` and `--help` stay fast.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import sys

from amatelier import __version__

_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+[.)])\s")


def _reconfigure_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors="replace")


def reflow(text: str) -> str:
    """Join a docstring's wrapped lines into one line per paragraph.

    The help renderer keeps single line breaks after the first paragraph, so a docstring
    wrapped at 100 columns would print with ragged breaks mid-sentence. Lines that start
    a list item (`-`, `*`, `1.`) or are indented keep their own line.
    """
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.splitlines():
            starts_item = line[:1].isspace() or _LIST_ITEM.match(line) is not None
            if lines and not starts_item:
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _reflow_help(app) -> None:  # app: typer.Typer
    """Give every command (and sub-group) its docstring reflowed as explicit help text."""
    for info in app.registered_commands:
        doc = info.help if info.help is not None else inspect.getdoc(info.callback)
        if doc:
            info.help = reflow(doc)
    for group in app.registered_groups:
        _reflow_help(group.typer_instance)


def build_app():  # -> typer.Typer
    import typer

    from amatelier.commands import (
        agent,
        batch,
        economy,
        learning,
        mcp,
        reliability,
        roundtable,
        serve,
        setup,
        snapshot,
    )

    app = typer.Typer(
        name="amatelier",
        help="A roundtable of AI agents that debate a design decision, get scored, and learn.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    ) -> None:
        if version:
            print(f"amatelier {__version__}")
            raise typer.Exit(0)

    for area in (setup, roundtable, economy, learning, reliability, mcp, serve, batch, snapshot, agent):
        area.register(app)
    _reflow_help(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        print(f"amatelier {__version__}")
        return
    _reconfigure_streams()
    from amatelier.commands.errors import run_cli

    run_cli(build_app(), args)


if __name__ == "__main__":
    main()
