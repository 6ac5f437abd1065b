"""The Judge's scale: the four axes, the 0/1/2/3/10 scores, and the grand-insight rule.

Pure constants and functions that judging validates against and the economy settles on;
they live with the judge because they define what a score is, not what it pays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AXES: tuple[str, ...] = ("novelty", "accuracy", "impact", "challenge")
SCALE: frozenset[int] = frozenset({0, 1, 2, 3, 10})
GRAND_INSIGHT = 10
CAPPED_GRAND_INSIGHT = 3
PENALTY_TYPES: tuple[str, ...] = ("redundancy", "hallucination", "off_directive")


def is_valid_axis(value: Any) -> bool:
    """True for an int (not bool) on the 0/1/2/3/10 scale."""
    return isinstance(value, int) and not isinstance(value, bool) and value in SCALE


def grand_insight_complete(grand_insight: Any) -> bool:
    """A grand insight counts only with the quoted message and the before/after shift."""
    if not isinstance(grand_insight, Mapping):
        return False
    return all(isinstance(grand_insight.get(k), str) and grand_insight.get(k, "").strip()
               for k in ("quote", "before", "after"))


def apply_grand_insight_rule(axes: Mapping[str, int], grand_insight: Any) -> tuple[dict[str, int], list[str]]:
    """Cap every 10 that the grand insight does not justify at 3.

    A 10 stands only when the grand insight has a quote and a before/after shift, and
    only on the axis it names (if it names none and exactly one axis is 10, that one).
    Returns the adjusted axes and a note per capped axis.
    """
    adjusted = dict(axes)
    tens = [axis for axis in AXES if adjusted.get(axis) == GRAND_INSIGHT]
    if not tens:
        return adjusted, []
    allowed: str | None = None
    if grand_insight_complete(grand_insight):
        named = str(grand_insight.get("axis", "")).strip().lower()
        if named in tens:
            allowed = named
        elif len(tens) == 1 and named not in AXES:
            allowed = tens[0]
    if not grand_insight_complete(grand_insight):
        why = "no grand insight with a quote and before/after"
    elif allowed is None:
        why = "the grand insight does not name this axis"
    else:
        why = f"the grand insight is on {allowed}"
    notes = []
    for axis in tens:
        if axis != allowed:
            adjusted[axis] = CAPPED_GRAND_INSIGHT
            notes.append(f"{axis} 10 capped at 3: {why}")
    return adjusted, notes


def axes_total(axes: Mapping[str, int]) -> int:
    return sum(int(axes[axis]) for axis in AXES)
