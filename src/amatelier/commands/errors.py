"""Turn the errors a user can cause into one clear line and exit code 2, never a traceback.

With `--json` anywhere on the command line the same error is one JSON object on stderr,
`{"error": "...", "code": N}`, with the same exit code, so scripts never parse prose.
Database and disk faults (read-only workspace, full disk, damaged database) are named
with the database file and what to do (amatelier.chat.faults).
"""

from __future__ import annotations

import json
import sqlite3
import sys

from amatelier.errors import EXIT_USAGE, UserError  # noqa: F401 - commands raise it from here

JSON_FLAG = "--json"


def _known_errors() -> tuple[type[BaseException], ...]:
    from amatelier.backends.base import BackendUnavailable, LLMCallError
    from amatelier.config import ConfigError
    from amatelier.paths import WorkspaceNotWritable

    return (UserError, ConfigError, BackendUnavailable, WorkspaceNotWritable, LLMCallError)


def _click_errors() -> tuple[type[BaseException], type[BaseException]]:
    """(ClickException, Abort) of the click typer runs on (its vendored copy when it has one)."""
    import typer

    try:
        from typer._click.exceptions import ClickException  # typer >= 0.29 vendors click
    except ImportError:
        from click.exceptions import ClickException
    return ClickException, getattr(typer, "Abort", KeyboardInterrupt)


def wants_json(args: list[str]) -> bool:
    """Whether the command line asks for JSON (before a `--` that ends the options)."""
    options = args[:args.index("--")] if "--" in args else args
    return JSON_FLAG in options


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def fail(message: str, exit_code: int = EXIT_USAGE, *, as_json: bool = False) -> None:
    """Print the error (a line, or a JSON object with --json) on stderr and exit."""
    if as_json:
        print(json.dumps({"error": one_line(message), "code": exit_code}, ensure_ascii=False),
              file=sys.stderr)
    else:
        print(f"amatelier: error: {message}", file=sys.stderr)
    sys.stderr.flush()
    raise SystemExit(exit_code)


def fault_line(exc: BaseException) -> str | None:
    """The one line for a database or disk fault (None when `exc` is not one)."""
    from amatelier.chat import faults

    if not faults.is_fault(exc):
        return None
    from amatelier import paths

    try:
        db_path = paths.user_db_path()
    except Exception:  # noqa: BLE001 - naming the file must never mask the fault itself
        db_path = "roundtable.db"
    return faults.describe(exc, getattr(exc, "path", None) or db_path)


def run_cli(app, args: list[str]) -> None:
    """Run the typer app, mapping known errors to `amatelier: error: ...` and exit 2."""
    as_json = wants_json(args)
    click_error, click_abort = _click_errors()
    try:
        if as_json:
            code = app(args=args, prog_name="amatelier", standalone_mode=False)
            if isinstance(code, int) and code:
                raise SystemExit(code)
        else:
            app(args=args, prog_name="amatelier", standalone_mode=True)
    except click_error as exc:  # only reached with --json: usage errors as JSON
        fail(exc.format_message(), int(getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE), as_json=True)
    except click_abort:
        _interrupted(as_json)
    except _known_errors() as exc:
        code = getattr(exc, "exit_code", EXIT_USAGE)
        fail(str(exc), code, as_json=as_json)
    except (sqlite3.Error, OSError) as exc:
        line = fault_line(exc)
        if line is None:
            raise
        fail(line, EXIT_USAGE, as_json=as_json)
    except KeyboardInterrupt:
        _interrupted(as_json)


def _interrupted(as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": "interrupted", "code": 130}), file=sys.stderr)
    else:
        print("amatelier: interrupted", file=sys.stderr)
    raise SystemExit(130) from None
