"""Output helpers for the `amatelier agent` commands: JSON to stdout, errors as one line.

Errors become UserError, which `commands.errors.run_cli` prints as `amatelier: error: ...`
or, with --json, as one JSON object `{"error": "...", "code": N}` on stderr (exit N).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from amatelier.commands.errors import UserError
from amatelier.commands.output import print_json  # noqa: F401 - the agent commands print through it

JSON_HELP = "Print the result as JSON (errors as one JSON object on stderr)."


def note(text: str) -> None:
    """A progress line on stderr, so stdout stays the result."""
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def reporting() -> Iterator[None]:
    """Turn bundle errors and disk faults into a UserError: one line, exit 2, never a traceback."""
    from amatelier.bundles import BundleError

    try:
        yield
    except BundleError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:  # a full or read-only disk, a vanished directory
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        raise UserError(message) from None
