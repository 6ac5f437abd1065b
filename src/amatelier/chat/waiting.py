"""Cheap waiting on the database: wake when another connection commits.

`PRAGMA data_version` changes whenever another connection commits to the database; it
costs a few microseconds to read. Waiting sides poll it every few milliseconds right after
activity and back off while idle, so a handoff is noticed within milliseconds without a
fixed sleep and an idle worker costs almost nothing.
"""

from __future__ import annotations

import sqlite3
import time

MIN_SLEEP_S = 0.001
MAX_SLEEP_S = 0.010


class ChangeWaiter:
    """Blocks until the database changes (another connection committed) or a timeout passes."""

    def __init__(self, conn: sqlite3.Connection, *, min_sleep: float = MIN_SLEEP_S,
                 max_sleep: float = MAX_SLEEP_S) -> None:
        self.conn = conn
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self._sleep = min_sleep
        self._version = self._read()

    def _read(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        """True (once) when another connection has committed since the last check."""
        version = self._read()
        if version != self._version:
            self._version = version
            self._sleep = self.min_sleep
            return True
        return False

    def wait(self, timeout: float) -> bool:
        """Sleep in growing steps until a change or `timeout` seconds; True on change."""
        end = time.monotonic() + max(0.0, timeout)
        while True:
            if self.changed():
                return True
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self._sleep, remaining))
            self._sleep = min(self.max_sleep, self._sleep * 1.5)
