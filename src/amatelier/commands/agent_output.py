"""Output helpers for the `amatelier agent` commands: JSON to stdout, errors as one line.

With --json an error is one JSON object `{"error": "...", "code": N}` on stderr (exit N),
so a script never has to parse prose; without it, the usual `amatelier: error: ...` line.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from amatelier.commands.errors import EXIT_USAGE, UserError

JSON_HELP = "Print the result as JSON (errors as one JSON object on stderr)."


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False), flush=True)


def note(text: str) -> None:
    """A progress line on stderr, so stdout stays the result."""
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def reporting(as_json: bool) -> Iterator[None]:
    """Map bundle, config and workspace errors to one line (or one JSON object) and exit 2."""
    from amatelier.bundles import BundleError
    from amatelier.config import ConfigError
    from amatelier.paths import WorkspaceNotWritable

    try:
        yield
    except (BundleError, UserError, ConfigError, WorkspaceNotWritable) as exc:
        code = getattr(exc, "exit_code", EXIT_USAGE)
        if as_json:
            print(json.dumps({"error": str(exc), "code": code}, ensure_ascii=False), file=sys.stderr, flush=True)
            raise SystemExit(code) from None
        raise UserError(str(exc), exit_code=code) from None
    except OSError as exc:  # a full or read-only disk, a vanished directory: one line, not a traceback
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        if as_json:
            print(json.dumps({"error": message, "code": EXIT_USAGE}), file=sys.stderr, flush=True)
            raise SystemExit(EXIT_USAGE) from None
        raise UserError(message) from None
