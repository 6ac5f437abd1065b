"""Finding and removing `[[request: ...]]` tags in an agent's message."""

from __future__ import annotations

import re

# Non-greedy up to the first "]]"; DOTALL so a request may wrap onto a second line.
REQUEST_RE = re.compile(r"\[\[\s*request\s*:\s*(.*?)\s*\]\]", re.IGNORECASE | re.DOTALL)
MAX_REQUEST_CHARS = 500


def parse_requests(text: str) -> list[str]:
    """Every non-empty request payload in `text`, in order, whitespace collapsed and capped."""
    found: list[str] = []
    for match in REQUEST_RE.finditer(text or ""):
        payload = " ".join(match.group(1).split())
        if payload:
            found.append(payload[:MAX_REQUEST_CHARS])
    return found


def strip_requests(text: str) -> str:
    """The message with its request tags removed (for transcripts and similarity measures)."""
    stripped = REQUEST_RE.sub("", text or "")
    # Collapse the blank runs a removed tag leaves behind.
    stripped = re.sub(r"[ \t]+\n", "\n", stripped)
    stripped = re.sub(r"\n{3,}", "\n\n", stripped)
    return stripped.strip()
