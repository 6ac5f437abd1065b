"""Errors a user can cause and fix, shared by every layer (the CLI prints them as one line)."""

from __future__ import annotations

EXIT_USAGE = 2


class UserError(Exception):
    """Bad input or environment the user can fix; printed as one line, exit 2."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
