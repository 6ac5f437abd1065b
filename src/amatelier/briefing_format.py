"""A briefing's text: reading the file, and its `## Steward-Registered Files` section and entries.

`read_briefing` is how every front door (a roundtable, a benchmark suite) reads a briefing file.
The section parsing is pure text, shared by the Steward (steward.registry, which decides scope)
and the offline model (offline/, which answers as if it had read the briefing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s*steward[- ]registered files\b[ \t:]*(.*)$",
                        re.IGNORECASE)
ANY_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s")
BULLET_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
BACKTICK_RE = re.compile(r"`([^`]+)`")
# What separates a path from a description on one line: " — note", " -- note", " - note", " (note)", " # note".
DESCRIPTION_RE = re.compile(r"\s+(?:—|–|--|-|#)\s.*$|\s+\(.*\)\s*$")
GLOB_CHARS = set("*?[")


def read_briefing(path: Path, name: str, error: Callable[[str], Exception]) -> str:
    """The briefing's text; `error(message)` is raised when it cannot be read or is blank."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read briefing {name}: {exc}") from exc
    if not text.strip():
        raise error(f"briefing {name} is empty")
    return text


def section_lines(briefing_text: str) -> tuple[bool, list[str]]:
    """(section present, its raw lines including any text after the heading on the same line)."""
    lines = (briefing_text or "").splitlines()
    for index, line in enumerate(lines):
        match = HEADING_RE.match(line)
        if not match:
            continue
        body = [match.group(2)] if match.group(2).strip() else []
        for follower in lines[index + 1:]:
            if ANY_HEADING_RE.match(follower):
                break
            body.append(follower)
        return True, body
    return False, []


def entry_text(line: str) -> str | None:
    """The path or glob a section line names, or None for blank, prose-free or "(none)" lines."""
    text = line.strip()
    if not text or text.startswith(("<!--", ">")):
        return None
    text = BULLET_RE.sub("", text)
    ticked = BACKTICK_RE.search(text)
    text = ticked.group(1).strip() if ticked else DESCRIPTION_RE.sub("", text).strip()
    if not text or text.lower().lstrip("(").startswith("none"):
        return None
    return text




def entries_outside(briefing_text: str) -> list[str]:
    """Registered entries that reach outside the launch directory: absolute, `~`, or with a `..` part.

    A person may register any file they like; a briefing written by a remote or MCP client
    (which may be prompt-injected) must not make the Steward read the host's files.
    """
    _, body = section_lines(briefing_text)
    found = []
    for line in body:
        entry = entry_text(line)
        if entry is None:
            continue
        posix = entry.replace("\\", "/")
        if posix.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", posix) or ".." in posix.split("/"):
            found.append(entry)
    return found
