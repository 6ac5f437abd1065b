"""How many retries one model call took and how long it waited, so a retry is never invisible.

`call_with_retry` runs deep inside a backend; the code that records the call
(amatelier.chat.llm_calls) opens a tally around it with `tally_call()` and reads the
counts afterwards. A context variable carries the tally, so concurrent calls in other
threads each count their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class CallTally:
    """Retries and seconds slept on them, for one recorded call."""

    retries: int = 0
    wait_s: float = 0.0


_CURRENT: ContextVar[CallTally | None] = ContextVar("amatelier_call_tally", default=None)


@contextlib.contextmanager
def tally_call() -> Iterator[CallTally]:
    """Count the retries made while the block runs."""
    tally = CallTally()
    token = _CURRENT.set(tally)
    try:
        yield tally
    finally:
        _CURRENT.reset(token)


def note_retry(delay_s: float) -> None:
    """Record one retry and the wait before it (no-op outside a tally)."""
    tally = _CURRENT.get()
    if tally is not None:
        tally.retries += 1
        tally.wait_s += max(0.0, float(delay_s))
