"""How a roundtable stops early: Ctrl-C, SIGTERM and the runner's own aborts, and holding signals
while a digest is written so it is never half-done.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any


class RoundtableInterrupted(BaseException):
    """Ctrl-C or SIGTERM while a roundtable runs; `reason` is recorded as the cut reason.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way (a seam,
    a model call's error handling) can swallow a SIGTERM.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RoundtableAborted(Exception):
    """The runner decided to stop (health audit); the roundtable is already cut."""


class CeilingStop(Exception):
    """A ceiling refused the next model call: the debate ends here, closed (not cut).

    `reason` names the ceiling, the spent amount and the limit (the digest's stop_reason).
    """

    def __init__(self, reason: str, ceiling: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.ceiling = ceiling


def _raise_terminated(signum: int, frame: Any) -> None:
    raise RoundtableInterrupted("terminated")


@contextlib.contextmanager
def _held_signals() -> Any:
    """Hold Ctrl-C and SIGTERM while a digest is built or written (never half-done).

    Yields a list that holds the signals that arrived meanwhile, so the caller can stop
    after the block instead of in the middle of it.
    """
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


