"""What the prompts leave out of a long briefing or topic, said out loud instead of silently.

Every turn's prompt carries the first `BRIEFING_CHARS` characters of the briefing and the
first `TOPIC_CHARS` of the topic. A longer input is not an error, but the user is told at
the start (stderr) and in the digest (`warnings`), and the prompt tells the agents how to
read the rest: the briefing file is readable through the Steward by the name `briefing`
(`[[request: lines 400-480 of briefing]]`).
"""

from __future__ import annotations

BRIEFING_CHARS = 12000
TOPIC_CHARS = 300
LINES_PER_REQUEST = 80


def shown_lines(text: str, limit: int = BRIEFING_CHARS) -> tuple[int, int]:
    """(lines the prompt shows in full, lines the briefing has)."""
    total = len(text.splitlines())
    if len(text) <= limit:
        return total, total
    return max(0, len(text[:limit].splitlines()) - 1), total


def briefing_excerpt(text: str, limit: int = BRIEFING_CHARS) -> str:
    """The briefing as a prompt carries it: whole, or cut at a line with a note on reading the rest."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    shown, total = shown_lines(text, limit)
    nxt = shown + 1
    note = (f"[… briefing truncated: this prompt shows lines 1-{shown} of {total} ({limit} of {len(text)} "
            f"characters). Read the rest through the Steward, e.g. [[request: lines {nxt}-"
            f"{min(total, nxt + LINES_PER_REQUEST - 1)} of briefing]].]")
    kept = "\n".join(text.splitlines()[:shown])
    return f"{kept}\n{note}"


def input_warnings(topic: str, briefing_text: str) -> list[str]:
    """One line per input the prompts will cut (for stderr at the start and digest `warnings`)."""
    found: list[str] = []
    briefing = (briefing_text or "").strip()
    if len(briefing) > BRIEFING_CHARS:
        shown, total = shown_lines(briefing)
        found.append(f"briefing truncated: it is {len(briefing)} characters ({total} lines); every prompt "
                     f"carries only its first {BRIEFING_CHARS} (lines 1-{shown}); agents can read the rest "
                     "through the Steward ([[request: lines A-B of briefing]])")
    flat = " ".join((topic or "").split())
    if len(flat) > TOPIC_CHARS:
        found.append(f"topic truncated: it is {len(flat)} characters; every prompt carries only its first "
                     f"{TOPIC_CHARS}; put the detail in the briefing")
    return found
