"""One Steward lookup running in a background thread, so the debate goes on meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from amatelier.steward.result import StewardResult

WAIT_GRACE_S = 10.0


class StewardTask:
    """Runs `work()` in a daemon thread; `done` is set when a result is there.

    `wait(timeout)` returns the result, or a "timeout" result once the timeout passes; a
    result the work produces after that is discarded, so what was injected stays true.
    """

    def __init__(self, agent: str, request: str, work: Callable[[], StewardResult], *,
                 round_num: int | None = None, phase: str | None = None, free: bool = False,
                 timeout_s: float = 120.0, grace_s: float = WAIT_GRACE_S,
                 start: bool = True) -> None:
        self.agent = agent
        self.request = request
        self.round_num = round_num
        self.phase = phase
        self.free = free
        self.timeout_s = float(timeout_s)
        self.grace_s = float(grace_s)
        self.done = threading.Event()
        self.injected = False
        self.started = start          # False for refusals decided without a lookup
        self._work = work
        self._result: StewardResult | None = None
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"steward-{agent}")
        if start:
            self.thread.start()

    @classmethod
    def finished(cls, agent: str, request: str, result: StewardResult, **kwargs: object
                 ) -> StewardTask:
        """A task that is already done (a refusal decided without any lookup)."""
        task = cls(agent, request, lambda: result, start=False, **kwargs)  # type: ignore[arg-type]
        task._result = result
        task.done.set()
        return task

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            result = self._work()
        except Exception as exc:  # a lookup must never take the runner down
            result = StewardResult("error", output=f"steward lookup failed: {type(exc).__name__}: {exc}")
        if not result.elapsed_s:
            result.elapsed_s = time.perf_counter() - started
        with self._lock:
            if self._result is None:
                self._result = result
        self.done.set()

    @property
    def result(self) -> StewardResult | None:
        return self._result

    def seconds_left(self) -> float:
        """Time until this task's own deadline (its timeout plus the grace period)."""
        return max(0.0, self._started + self.timeout_s + self.grace_s - time.monotonic())

    def wait(self, timeout: float | None = None) -> StewardResult:
        """Block until done or `timeout` seconds; a task still running then times out."""
        if not self.done.wait(timeout):
            with self._lock:
                if self._result is None:
                    self._result = StewardResult(
                        "timeout", output=f"the lookup did not finish within {self.timeout_s:.0f}s",
                        elapsed_s=time.monotonic() - self._started)
            self.done.set()
        assert self._result is not None
        return self._result
