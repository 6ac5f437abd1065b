"""The text layout of a turn prompt that both sides read: section headings and `KEY: value` markers.

debate.context writes prompts in this layout; the offline model (offline/) reads it back to
answer like a model that followed the prompt. Keeping the format here lets both depend on it
without the offline backend importing the debate.
"""

from __future__ import annotations

import re


def parse_markers(prompt: str) -> dict[str, str]:
    """Header and task markers of a prompt built by build_prompt (used by offline responders)."""
    found: dict[str, str] = {}
    head, _, rest = prompt.partition("\n===")
    for line in head.splitlines():
        match = _MARKER.match(line)
        if match:
            found.setdefault(match.group(1).strip(), match.group(2).strip())
    task = prompt.rsplit(SECTION.format("YOUR TASK"), 1)
    if len(task) == 2:
        for line in task[1].strip().splitlines():
            match = _MARKER.match(line)
            if not match:
                break
            found.setdefault(match.group(1).strip(), match.group(2).strip())
    return found


def transcript_speakers(prompt: str) -> list[tuple[str, str, str]]:
    """(agent, phase, text) for each message line in the prompt's recent transcript."""
    section = prompt.split(SECTION.format("RECENT TRANSCRIPT"), 1)
    if len(section) < 2:
        return []
    body = section[1].split(SECTION.format("YOUR TASK"), 1)[0]
    found = []
    for match in re.finditer(r"^\[#\d+(?: r\d+)?(?: ([A-Z]+))?\] ([^:\n]+): (.*)$", body, re.M):
        found.append((match.group(2).strip(), match.group(1) or "", match.group(3)))
    return found


SECTION = "=== {} ==="
_MARKER = re.compile(r"^([A-Z][A-Z ]{1,30}):\s?(.*)$")
