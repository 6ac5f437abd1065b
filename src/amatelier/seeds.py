"""Re-copy bundled persona seeds (CLAUDE.md, IDENTITY.md) into the user-data dir, on request.

Upgrades never touch a user's persona files; `amatelier refresh-seeds` is the opt-in way
to pull shipped changes. Each agent dir records the hash of every seed copied there and
of the therapist's last write (amatelier.seed_hashes), so each file is one of: current
(identical to the shipped seed), unedited (the seed we copied, untouched: a newer one is
written), evolved by the therapist, or edited by you. The last two are kept unless
`force`; a file --force replaces is kept first in the agent's persona history
(amatelier.learning.persona_history: agents/<name>/history/<FILE>.<NNN>) and the output
says where. MEMORY.md, behaviors.json, metrics.json and the rest of an agent's state are
never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from amatelier import paths, seed_hashes

_WHO = {seed_hashes.EVOLVED: "evolved by the therapist", seed_hashes.EDITED: "edited by you"}

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
    origin: str = seed_hashes.MISSING  # seed_hashes.CURRENT / MISSING / UNEDITED / EVOLVED / EDITED
    backup: Path | None = None         # where the replaced file was kept (after apply_plan)

    @property
    def label(self) -> str:
        return f"{self.agent}/{self.filename}"

    @property
    def who(self) -> str:
        """Who changed the user's copy, in words ('' when nobody did)."""
        return _WHO.get(self.origin, "")

    def describe(self) -> str:
        if self.action == WRITE:
            if self.origin == seed_hashes.UNEDITED:
                return f"[WRITE] {self.label} (a new seed shipped; your copy was unedited)"
            if self.who:
                kept = f"backup: {self.backup}" if self.backup else "a backup would be kept"
                return f"[WRITE] {self.label} ({self.who}; {kept})"
            return f"[WRITE] {self.label}"
        if self.action == CURRENT:
            return f"[SKIP] {self.label} (already current)"
        return f"[SKIP] {self.label} ({self.who}; use --force to overwrite, keeping a backup)"


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
            agent_dir = paths.user_agent_dir(name)
            target = agent_dir / filename
            try:
                current = target.read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                current = None
            origin = seed_hashes.origin(current, source.read_bytes(), seed_hashes.load(agent_dir), filename)
            if origin == seed_hashes.CURRENT:
                action = CURRENT
            elif origin in (seed_hashes.EVOLVED, seed_hashes.EDITED) and not force:
                action = MODIFIED
            else:
                action = WRITE
            actions.append(SeedAction(name, filename, action, source, target, origin))
    return actions


def apply_plan(actions: list[SeedAction], *,
               write_file: Callable[[Path, str, bytes], Any]) -> list[SeedAction]:
    """Write every WRITE action with `write_file(agent_dir, filename, data)`.

    The caller passes amatelier.learning.persona_history.write_persona_file, so a file that
    --force replaces is kept first as agents/<name>/history/<FILE>.<NNN> (this bottom-layer
    module cannot import the learning package itself); its return value, the kept copy, is
    the action's `backup`. Returns the written actions.
    """
    written: list[SeedAction] = []
    for item in actions:
        if item.action != WRITE:
            continue
        data = item.source.read_bytes()
        # byte-exact, so a later comparison says "already current"
        kept = write_file(item.target.parent, item.target.name, data)
        seed_hashes.note_seeded(item.target.parent, item.filename, data)
        backup = Path(kept) if isinstance(kept, str | Path) else None
        written.append(replace(item, backup=backup))
    return written
