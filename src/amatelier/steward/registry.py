"""The briefing's `## Steward-Registered Files` section: which files the Steward may read.

The user writes the section; it is the whole of the Steward's scope (spec invariant 11).
Entries are paths or globs, relative to the directory the roundtable was launched from,
or absolute. A missing section, an empty one, or one that says "(none ...)" leaves the
Steward off for that roundtable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from amatelier.briefing_format import (  # noqa: F401
    ANY_HEADING_RE,
    BACKTICK_RE,
    BULLET_RE,
    DESCRIPTION_RE,
    GLOB_CHARS,
    HEADING_RE,
    entry_text,
    section_lines,
)

BRIEFING_NAME = "briefing"                            # what agents call the roundtable's briefing file


@dataclass(frozen=True)
class RegisteredFile:
    """One explicitly registered file, as written and as an absolute (not yet resolved) path."""

    raw: str
    path: Path


@dataclass(frozen=True)
class Registry:
    """What the Steward may read in one roundtable. Immutable once loaded."""

    launch_dir: Path                                  # real path of the launch directory
    files: tuple[RegisteredFile, ...] = ()
    globs: tuple[str, ...] = ()                       # launch-relative POSIX patterns
    rejected: tuple[tuple[str, str], ...] = ()        # (entry as written, why it was refused)
    declared: bool = False                            # the section exists in the briefing
    allow_dirs: bool = False                          # a mirror registry (claude -p hook) may name dirs
    entries: tuple[str, ...] = field(default=())      # accepted entries as written, for prompts
    briefing: Path | None = None                      # the roundtable's own briefing, read as "briefing"

    @property
    def enabled(self) -> bool:
        """Whether the user registered anything (the briefing alone does not switch the Steward on)."""
        return bool(self.files or self.globs)

    def with_briefing(self, path: Path | str | None) -> Registry:
        """This registry plus the briefing file, readable by the name `briefing`.

        The prompt carries only the first part of a long briefing; agents read the rest with
        `[[request: lines 400-480 of briefing]]`. The user chose the file, so it is in scope
        wherever it lives.
        """
        if path is None:
            return self
        return replace(self, briefing=Path(os.path.abspath(os.fspath(path))))

    def display(self, path: Path | str) -> str:
        """A path as agents should see it: launch-relative when inside, else absolute."""
        path = Path(path)
        if self.briefing is not None and os.path.realpath(path) == os.path.realpath(self.briefing):
            return BRIEFING_NAME
        try:
            return path.relative_to(self.launch_dir).as_posix()
        except ValueError:
            return str(path)


def _lexical_inside(path: str, root: Path) -> bool:
    normalized = os.path.normpath(path)
    root_text = str(root)
    return normalized == root_text or normalized.startswith(root_text.rstrip(os.sep) + os.sep)


def load_registered_files(briefing_text: str, launch_dir: Path | str) -> Registry:
    """Parse the section into a Registry; entries that could widen the scope are rejected.

    A glob must stay inside the launch directory: one with a `..` component, or an
    absolute glob elsewhere, is rejected (recorded in `rejected`) rather than trusted.
    """
    launch_real = Path(os.path.realpath(os.fspath(launch_dir)))
    declared, body = section_lines(briefing_text)
    files: list[RegisteredFile] = []
    globs: list[str] = []
    rejected: list[tuple[str, str]] = []
    accepted: list[str] = []
    for line in body:
        raw = entry_text(line)
        if raw is None:
            continue
        if "\x00" in raw:
            rejected.append((raw, "NUL byte in path"))
            continue
        expanded = os.path.expanduser(raw)
        if any(ch in GLOB_CHARS for ch in expanded):
            reason, pattern = _glob_pattern(expanded, launch_real)
            if reason:
                rejected.append((raw, reason))
                continue
            if pattern not in globs:
                globs.append(pattern)
                accepted.append(raw)
            continue
        absolute = Path(os.path.normpath(expanded if os.path.isabs(expanded)
                                         else os.path.join(launch_real, expanded)))
        if absolute == launch_real or raw.endswith(("/", os.sep)):
            rejected.append((raw, "a directory cannot be registered (use a glob such as dir/**)"))
            continue
        if all(existing.path != absolute for existing in files):
            files.append(RegisteredFile(raw=raw, path=absolute))
            accepted.append(raw)
    return Registry(launch_dir=launch_real, files=tuple(files), globs=tuple(globs),
                    rejected=tuple(rejected), declared=declared, entries=tuple(accepted))


def _glob_pattern(expanded: str, launch_real: Path) -> tuple[str | None, str]:
    """(rejection reason or None, launch-relative POSIX pattern)."""
    parts = PurePosixPath(expanded.replace(os.sep, "/")).parts
    if ".." in parts:
        return "glob contains '..' and could match outside the launch directory", ""
    if os.path.isabs(expanded):
        if not _lexical_inside(expanded, launch_real):
            return "absolute glob outside the launch directory", ""
        relative = os.path.relpath(os.path.normpath(expanded), launch_real)
    else:
        relative = os.path.normpath(expanded)
    pattern = relative.replace(os.sep, "/")
    if pattern in (".", ""):
        return "empty glob", ""
    return None, pattern


def mirror_registry(root: Path) -> Registry:
    """A registry for a private mirror directory: everything under `root` (files and dirs)."""
    root_real = Path(os.path.realpath(root))
    return Registry(launch_dir=root_real, globs=("**",), declared=True, allow_dirs=True,
                    entries=("**",))
