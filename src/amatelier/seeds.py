"""Re-copy bundled persona seeds (CLAUDE.md, IDENTITY.md) into the user-data dir, on request.

Upgrades never touch a user's persona files; `amatelier refresh-seeds` is the opt-in way
to pull shipped changes. A file identical to the bundled copy is already current; a file
that differs was edited (by the user or the therapist) and is kept unless `force`.
MEMORY.md, behaviors.json, metrics.json and the rest of an agent's state are never touched;
a replaced persona file is kept in the agent's history (amatelier.learning.persona_history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier import paths

WRITE = "write"
CURRENT = "current"
MODIFIED = "modified"


class SeedError(RuntimeError):
    """The bundled seeds cannot be read (corrupt install) or an agent is unknown."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class SeedAction:
    agent: str
    filename: str
    action: str  # WRITE, CURRENT or MODIFIED
    source: Path
    target: Path

    @property
    def label(self) -> str:
        return f"{self.agent}/{self.filename}"

    def describe(self) -> str:
        if self.action == WRITE:
            return f"[WRITE] {self.label}"
        if self.action == CURRENT:
            return f"[SKIP] {self.label} (already current)"
        return f"[SKIP] {self.label} (user-modified; use --force to overwrite)"


def known_agents() -> list[str]:
    """Agents that ship seeds (subdirectories of the bundled agents dir), sorted."""
    bundled = paths.bundled_agents_dir()
    if not bundled.is_dir():
        raise SeedError(
            f"bundled agents directory is missing: {bundled} (corrupt install? reinstall amatelier)",
            exit_code=1,
        )
    return sorted(p.name for p in bundled.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def plan_refresh(agent: str | None = None, force: bool = False) -> list[SeedAction]:
    """What refresh-seeds would do, file by file, without writing anything."""
    agents = known_agents()
    if agent is not None:
        if agent not in agents:
            raise SeedError(f"unknown agent '{agent}' (known agents: {', '.join(agents) or 'none'})",
                            exit_code=2)
        agents = [agent]
    actions: list[SeedAction] = []
    for name in agents:
        for filename in paths.SEED_FILES:
            source = paths.bundled_agent_dir(name) / filename
            if not source.is_file():
                continue
            target = paths.user_agent_dir(name) / filename
            try:
                current = target.read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                current = None
            if current is not None and current == source.read_bytes():
                action = CURRENT
            elif current is not None and not force:
                action = MODIFIED
            else:
                action = WRITE
            actions.append(SeedAction(name, filename, action, source, target))
    return actions


def apply_plan(actions: list[SeedAction], *, write_file: Callable[[Path, str, bytes], Any]) -> int:
    """Write every WRITE action with `write_file(agent_dir, filename, data)`; returns the count.

    The caller passes amatelier.learning.persona_history.write_persona_file, so an edited
    file that --force replaces is kept first as agents/<name>/history/<FILE>.<NNN> (this
    bottom-layer module cannot import the learning package itself).
    """
    written = 0
    for item in actions:
        if item.action != WRITE:
            continue
        # byte-exact, so a later comparison says "already current"
        write_file(item.target.parent, item.target.name, item.source.read_bytes())
        written += 1
    return written
