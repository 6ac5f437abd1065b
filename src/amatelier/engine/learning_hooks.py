"""Seams where the learning loop joins a roundtable (the learning issue fills these in)."""

from __future__ import annotations

from typing import Any

from amatelier.engine.state import RoundtableState


def before_open(state: RoundtableState) -> None:
    """Steps 8-9: sync skills owned; prepare each worker's session bridge."""


def after_close(state: RoundtableState, digest: dict[str, Any]) -> dict[str, Any]:
    """Steps 33-35: analytics, skill distillation (runs even with --skip-post), novel concepts.

    Returns fields to merge into the digest.
    """
    return {}


def post(state: RoundtableState, digest: dict[str, Any]) -> None:
    """Steps 36, 39-40: therapist sessions, goal aging, skills-owned sync (not with --skip-post)."""
