"""The `amatelier` command: parse, call, report. Each area registers its own commands.

Kept thin and lazy: the command group is `amatelier.commands.lazy.LazyGroup`, which imports a
command's module only when that command runs, and heavy modules (engine, SDKs) are
imported inside the command that needs them, so `amatelier --version` and `--help` stay
fast. `build_app()` builds every command eagerly: the reference the lazy app is tested
against.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

from amatelier import __version__
from amatelier.commands.helptext import reflow, reflow_help  # noqa: F401 - reflow is public here too


def _reconfigure_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors="replace")


def build_app():  # -> typer.Typer
    """Every command built eagerly (the reference the lazy app is checked against)."""
    from amatelier.commands.lazy import AREAS, new_app

    app = new_app(__version__, lazy=False)
    for area in AREAS:  # each command module registers its own commands, in this order
        importlib.import_module(f"amatelier.commands.{area}").register(app)
    reflow_help(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        print(f"amatelier {__version__}")
        return
    _reconfigure_streams()
    from amatelier.commands.lazy import build_lazy_app, fast_root_help

    text = fast_root_help(args, sys.stdout)
    if text is not None:  # to a pipe: the stored rendering, no typer or rich to import
        sys.stdout.write(text)
        return
    from amatelier.commands.errors import run_cli

    run_cli(build_lazy_app(__version__), args)


if __name__ == "__main__":
    main()
