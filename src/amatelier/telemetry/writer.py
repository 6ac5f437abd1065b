"""Append telemetry events to a JSONL file from a background thread, never blocking the debate.

`emit()` only puts the event on a bounded queue (`put_nowait`); a thread writes and flushes
lines, so a slow or stuck disk costs the debate nothing. When the queue is full the event is
dropped and counted (`dropped`); `close()` drains what is queued within a time limit and records
the count of dropped events as a final `metric` line when it can. A write error (full or
read-only disk) stops the file, is reported once through `on_error`, and never raises into the
caller.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_QUEUE = 10_000
_STOP = object()


class JsonlWriter:
    """One telemetry.jsonl file, written line by line by a daemon thread."""

    def __init__(self, path: Path, *, max_queue: int = DEFAULT_QUEUE,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.dropped = 0
        self.written = 0
        self.failed: str | None = None
        self._on_error = on_error
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, max_queue))
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"telemetry-{self.path.parent.name}",
                                        daemon=True)
        self._thread.start()

    def emit(self, event: dict[str, Any]) -> bool:
        """Queue one event; False (and counted in `dropped`) when the queue is full or closed."""
        if self._closed or self.failed is not None:
            self.dropped += 1
            return False
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 5.0, *, final: Callable[[int], dict[str, Any]] | None = None) -> bool:
        """Stop accepting events, drain the queue (up to `timeout` s); True when all was written.

        `final(dropped)` builds one last event (e.g. a metric of dropped events) written after
        the queue drains, only when something was dropped.
        """
        if self._closed:
            return not self._thread.is_alive()
        self._closed = True
        tail = final(self.dropped) if final is not None and self.dropped else None
        try:
            self._queue.put((tail, _STOP), timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive() and self.failed is None

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        handle = None
        try:
            while True:
                item = self._queue.get()
                if isinstance(item, tuple) and len(item) == 2 and item[1] is _STOP:
                    if item[0] is not None:
                        handle = self._write(handle, item[0])
                    break
                handle = self._write(handle, item)
                if handle is not None and self._queue.empty():
                    handle.flush()
        finally:
            if handle is not None:
                try:
                    handle.flush()
                    handle.close()
                except OSError as exc:
                    self._fail(exc)

    def _write(self, handle: Any, event: dict[str, Any]) -> Any:
        if self.failed is not None:
            self.dropped += 1
            return handle
        try:
            if handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                drop_torn_tail(self.path)
                handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held by the thread
            line = json.dumps(event, ensure_ascii=False, default=str, separators=(",", ":"))
            handle.write(line + "\n")
            self.written += 1
        except (OSError, ValueError) as exc:
            self.dropped += 1
            self._fail(exc)
        return handle

    def _fail(self, exc: BaseException) -> None:
        if self.failed is None:
            self.failed = f"{type(exc).__name__}: {exc}"
            if self._on_error is not None:
                with contextlib.suppress(Exception):  # reporting must never kill the writer thread
                    self._on_error(f"telemetry stopped: cannot write {self.path}: {self.failed}")


def drop_torn_tail(path: Path) -> None:
    """Cut a half-written last line (a runner killed mid-write) so appending starts on a line of its own."""
    try:
        if os.stat(path).st_size == 0:
            return
        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            keep = 0
            block = 1 << 16
            position = size
            while position > 0:  # find the last newline, reading backwards
                start = max(0, position - block)
                handle.seek(start)
                chunk = handle.read(position - start)
                found = chunk.rfind(b"\n")
                if found >= 0:
                    keep = start + found + 1
                    break
                position = start
            handle.truncate(keep)
    except FileNotFoundError:
        return


def read_events(path: Path, *, offset: int = 0) -> list[tuple[dict[str, Any], int]]:
    """Complete lines of a telemetry file after byte `offset`, each with the offset just past it.

    A half-written last line is left for the next read; a line that is not JSON is skipped (its
    offset still advances past it, so a reader never stalls on it).
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return []
    found: list[tuple[dict[str, Any], int]] = []
    position = offset
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            break
        raw = data[start:end]
        position = offset + end + 1
        start = end + 1
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # a damaged line (even one nested too deep) is skipped
            value = None
        if isinstance(value, dict):
            found.append((value, position))
    return found
