#!/usr/bin/env python3
"""Regenerate the lazy CLI's listing and stored help from the eager app.

Writes src/amatelier/commands/commands_table.json (each top-level command: name, the
module that registers it, its help, whether it is hidden) and
src/amatelier/commands/root_help.txt (`amatelier --help` as typer renders it to a pipe).
Run it after adding or renaming a command or changing its first help line;
tests/unit/test_holes_cli_lazy.py fails while either file is stale.

    python scripts/regen_help.py            # rewrite both files
    python scripts/regen_help.py --check    # exit 1 if either is out of date
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer.main

from amatelier.cli import build_app
from amatelier.commands.lazy import AREAS, ROOT_HELP_FILE, TABLE_FILE, area_commands, render_help


def build_table() -> list[dict[str, Any]]:
    """The listing, from each area's real commands, in the eager app's order."""
    eager = typer.main.get_group(build_app())
    areas = {name: area for area in AREAS for name in area_commands(area)}
    return [{"name": name, "area": areas[name], "help": eager.commands[name].help or "",
             "hidden": bool(eager.commands[name].hidden)}
            for name in eager.list_commands(None)]  # type: ignore[arg-type]


def rendered() -> dict[Any, str]:
    return {TABLE_FILE: json.dumps(build_table(), indent=1, ensure_ascii=False) + "\n",
            ROOT_HELP_FILE: render_help(build_app(), [])}


def main(argv: list[str]) -> int:
    outputs = rendered()
    stale = [path for path, text in outputs.items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is out of date: run python scripts/regen_help.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
