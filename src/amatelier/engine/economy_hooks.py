"""Seams where the spark economy joins a roundtable (the ledger issue fills these in).

Each function is called by the runner at the named workflow step. Until the economy
lands they change nothing, and the digest carries no economy fields.
"""

from __future__ import annotations

from typing import Any

from amatelier.engine.state import RoundtableState


def before_open(state: RoundtableState) -> None:
    """Step 7: apply purchased boosts (e.g. extra floor turns) to state.budgets."""


def on_open(state: RoundtableState) -> None:
    """Step 13: entry fees by tier, once the roundtable row exists."""


def order_speakers(state: RoundtableState, order: list[str]) -> list[str]:
    """Step 16: first-speaker bids; returns the speaking order to use."""
    return order


def after_close(state: RoundtableState, digest: dict[str, Any]) -> dict[str, Any]:
    """Steps 28-32: judge scoring, gate bonuses, variance flags, ventures, leaderboard.

    Returns fields to merge into the digest.
    """
    return {}


def after_post(state: RoundtableState, digest: dict[str, Any]) -> None:
    """Steps 37-38: consume boosts, age bulletin-board requests."""
