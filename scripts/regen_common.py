"""What the regen_* scripts share: their command line and the write-or-check step.

Not a script itself: `regen_llm.py` and `regen_full.py` import it as a sibling module
(Python puts a script's own directory first on the import path). Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """`--check` and `--root` (default: this repository), as every regen script takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true",
                        help="report stale files and exit 1 instead of writing")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    return parser.parse_args(argv)


def sync_outputs(outputs: dict[Path, str], *, root: Path, check: bool, script: str) -> int:
    """Write every output whose file differs; with `check`, write nothing and exit 1 if any does."""
    stale = []
    for path, text in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {path.relative_to(root)}")
    if check and stale:
        for path in stale:
            print(f"out of date: {path} (run python scripts/{script})", file=sys.stderr)
        return 1
    return 0
