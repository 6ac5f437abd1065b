"""Seams where the Steward joins a roundtable (the steward issue fills these in).

The runner's speak phase works on a queue: after each speech it calls after_speech();
True means the speaker asked for research and goes to the back of the queue. Before
each next speaker it calls poll(); when every remaining speaker is waiting it calls
intermission(); before REBUTTAL it calls drain().
"""

from __future__ import annotations

from typing import Any

from amatelier.engine.state import RoundtableState


def setup(state: RoundtableState) -> None:
    """Step 6: read the briefing's registered files; decide whether the Steward is on."""


def research_window(state: RoundtableState) -> None:
    """Step 15: pre-debate round 0 (free requests), when files are registered."""


def after_speech(state: RoundtableState, agent: str, text: str) -> bool:
    """Step 19: start lookups for [[request:]] tags; True if the speaker is deferred."""
    return False


def waiting(state: RoundtableState, agent: str) -> bool:
    """Whether `agent` still waits on a lookup (the runner skips it until it is done)."""
    return False


def poll(state: RoundtableState) -> None:
    """Inject results of finished lookups into the chat."""


def intermission(state: RoundtableState) -> None:
    """Every remaining speaker waits on a lookup: post INTERMISSION and wait for them."""


def drain(state: RoundtableState) -> None:
    """Before REBUTTAL: wait for and inject every pending result."""


def digest_fields(state: RoundtableState) -> dict[str, Any]:
    """The steward log for the digest (empty when the Steward was off)."""
    return {}
