"""Turn the errors a user can cause into one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import sys

from amatelier.errors import EXIT_USAGE, UserError  # noqa: F401 - commands raise it from here


def _known_errors() -> tuple[type[BaseException], ...]:
    from amatelier.backends.base import BackendUnavailable, LLMCallError
    from amatelier.config import ConfigError
    from amatelier.paths import WorkspaceNotWritable

    return (UserError, ConfigError, BackendUnavailable, WorkspaceNotWritable, LLMCallError)


def fail(message: str, exit_code: int = EXIT_USAGE) -> None:
    print(f"amatelier: error: {message}", file=sys.stderr)
    raise SystemExit(exit_code)


def run_cli(app, args: list[str]) -> None:
    """Run the typer app, mapping known errors to `amatelier: error: ...` and exit 2."""
    try:
        app(args=args, prog_name="amatelier", standalone_mode=True)
    except _known_errors() as exc:
        code = getattr(exc, "exit_code", EXIT_USAGE)
        fail(str(exc), code)
    except KeyboardInterrupt:
        print("amatelier: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
