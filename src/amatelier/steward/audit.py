"""Test-only audit of file opens (AMATELIER_TEST_AUDIT_OPENS=path), to prove the scope holds.

When the variable names a file, every path this process opens from then on is appended
to it, one per line. End-to-end tests use it to show that a roundtable never opened a
file outside the registered set. Unset (always, outside tests), nothing is installed.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

ENV = "AMATELIER_TEST_AUDIT_OPENS"
_installed = False
_lock = threading.Lock()


def install_from_env() -> bool:
    """Install the audit hook once if the variable is set; True when it is active."""
    global _installed
    target = os.environ.get(ENV, "").strip()
    if not target:
        return False
    with _lock:
        if _installed:
            return True
        # Kept open for the life of the process, and opened before the hook exists.
        handle = open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        write_lock = threading.Lock()

        def hook(event: str, args: tuple[Any, ...]) -> None:
            if event != "open" or not args:
                return
            path = args[0]
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if not isinstance(path, str):
                return
            with write_lock:
                handle.write(os.path.abspath(path).replace("\n", "\\n") + "\n")

        sys.addaudithook(hook)
        _installed = True
        return True
