"""Byzantine variance flags on Judge scores (workflow step 30), as a pure function.

A flag does not move sparks; it marks scores worth a second look (the therapist and the
user see it in the digest): a worker scored flat-low roundtable after roundtable, axes
that disagree wildly with each other, totals that swing from one roundtable to the next,
or a total far from what the Judge gave everyone else in the same roundtable.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from amatelier.economy.rules import AXES, CAPPED_GRAND_INSIGHT, GRAND_INSIGHT

DEFAULTS = {"window": 3, "outlier_margin": 5, "swing": 8, "min_peers": 3}


def settings(config: Mapping[str, Any] | None) -> dict[str, int]:
    section = (config or {}).get("competition", {}).get("variance", {}) or {}
    return {key: int(section.get(key, default)) for key, default in DEFAULTS.items()}


def _axes(score: Mapping[str, Any]) -> list[int]:
    return [int(score[axis]) for axis in AXES]


def capped_total(score: Mapping[str, Any]) -> int:
    """Total with any 10 counted as 3, so one grand insight does not read as an outlier."""
    return sum(CAPPED_GRAND_INSIGHT if v == GRAND_INSIGHT else v for v in _axes(score))


def _flat_low(score: Mapping[str, Any]) -> bool:
    values = _axes(score)
    return len(set(values)) == 1 and values[0] <= 1


def compute_variance_flags(
    current: Mapping[str, Mapping[str, Any]],
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    config: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """{agent: reason} for the scored workers of one roundtable that look byzantine.

    `current` maps agent -> this RT's axes; `history` maps agent -> that agent's scored
    RTs oldest first, ending with this one. Unscored workers must be left out of both.
    """
    cfg = settings(config)
    window = max(1, cfg["window"])
    flags: dict[str, list[str]] = {}
    peer_totals = {agent: capped_total(score) for agent, score in current.items()}

    for agent, score in current.items():
        reasons: list[str] = []
        recent = list(history.get(agent, []))[-window:] or [score]

        if len(recent) >= window and all(_flat_low(s) for s in recent):
            reasons.append(f"flat-low scores (all axes equal and <= 1) for {window} RTs in a row")

        values = _axes(score)
        if max(values) == GRAND_INSIGHT and min(values) == 0:
            reasons.append("erratic across axes (a 10 next to a 0)")

        if len(recent) >= 2:
            totals = [capped_total(s) for s in recent]
            if max(totals) - min(totals) >= cfg["swing"]:
                reasons.append(f"erratic totals over the last {len(recent)} RTs ({', '.join(map(str, totals))})")

        peers = [total for other, total in peer_totals.items() if other != agent]
        if len(peers) >= cfg["min_peers"]:
            median = statistics.median(peers)
            mine = peer_totals[agent]
            if abs(mine - median) >= cfg["outlier_margin"]:
                reasons.append(f"deviates from peer consensus (total {mine} vs peer median {median:g})")

        if reasons:
            flags[agent] = reasons
    return {agent: "; ".join(reasons) for agent, reasons in flags.items()}
