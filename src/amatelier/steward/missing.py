"""Registered entries that name nothing: said at the start of a roundtable, not discovered later.

A briefing that registers `metrics.json` when the file is not there would otherwise run
silently, with every agent's lookup answered "not found". `missing_entries` lists each
explicit file that does not exist and each glob that matches no readable file, as the user
wrote them, so the runner can warn on stderr and record them in the digest
(`steward_missing`).
"""

from __future__ import annotations

import os

from amatelier.steward.registry import Registry
from amatelier.steward.scope import walk_glob


def missing_entries(registry: Registry) -> list[str]:
    """The registered entries (as written) that name no existing file, in registration order."""
    missing: list[str] = []
    for entry in registry.files:
        try:
            os.stat(entry.path)
        except OSError:
            missing.append(entry.raw)
    raw_globs = [raw for raw in registry.entries if raw not in {e.raw for e in registry.files}]
    for raw, pattern in zip(raw_globs, registry.globs, strict=False):
        if next(iter(walk_glob(pattern, registry)), None) is None:
            missing.append(raw)
    return missing


def missing_warning(missing: list[str]) -> str:
    """The warning for missing entries ('' when none); the CLI prints it as `amatelier: warning: ...`."""
    if not missing:
        return ""
    names = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return (f"the briefing registers {len(missing)} file(s) for the Steward that do not exist: "
            f"{names} (paths are relative to the directory the roundtable is launched from)")
