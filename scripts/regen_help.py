#!/usr/bin/env python3
"""Regenerate src/amatelier/commands/root_help.txt: `amatelier --help` as typer renders it to a pipe.

`amatelier --help` printed to a pipe reads this file instead of importing typer and rich
(see amatelier.commands.lazy). Run this after changing a command's name or first help line;
tests/unit/test_holes_cli_lazy.py fails while the file is stale.

    python scripts/regen_help.py            # rewrite the file
    python scripts/regen_help.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import sys

from amatelier.cli import build_app
from amatelier.commands.lazy import ROOT_HELP_FILE, render_help


def main(argv: list[str]) -> int:
    rendered = render_help(build_app(), [])
    current = ROOT_HELP_FILE.read_text(encoding="utf-8") if ROOT_HELP_FILE.is_file() else ""
    if "--check" in argv:
        if rendered != current:
            print(f"{ROOT_HELP_FILE} is out of date: run python scripts/regen_help.py", file=sys.stderr)
            return 1
        print(f"{ROOT_HELP_FILE} is up to date")
        return 0
    ROOT_HELP_FILE.write_text(rendered, encoding="utf-8")
    print(f"wrote {ROOT_HELP_FILE} ({len(rendered.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
