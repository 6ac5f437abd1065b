"""CLI commands for the economy area."""

from __future__ import annotations


def register(app) -> None:
    """Add this area's commands to the typer app."""
