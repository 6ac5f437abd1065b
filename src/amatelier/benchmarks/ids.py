"""Batch ids: `batch-<milliseconds since epoch>-<9 lowercase base36 chars>`.

The time prefix sorts batches by start; the random tail keeps two batches started in the
same millisecond (two terminals, a script) apart. The id is also a directory name, so only
ids that match the pattern exactly are ever turned into a path.
"""

from __future__ import annotations

import re
import secrets
import time

BATCH_ID = re.compile(r"^batch-\d{13}-[0-9a-z]{9}$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_batch_id(now_ms: int | None = None) -> str:
    """A fresh batch id for a batch starting now (or at `now_ms`)."""
    stamp = int(time.time() * 1000) if now_ms is None else int(now_ms)
    tail = "".join(secrets.choice(_BASE36) for _ in range(9))
    return f"batch-{stamp:013d}-{tail}"


def is_batch_id(text: str) -> bool:
    """Whether `text` is a well-formed batch id (safe to use as a directory name)."""
    return isinstance(text, str) and BATCH_ID.match(text) is not None
