"""Bias audits of the Judge, as numbers: order swap, and length against score. Pure functions.

Order swap: a share of roundtables (config `judging.swap_audit_share`, default 20 %, and
always with `--audit-judge`) is scored a second time by the first seat with the workers
in the reverse of the order it saw; the flip rate is the share of (worker, axis) scores
that changed. A judge with no position bias flips nothing.

Length: the Pearson correlation between each worker's total words and total score. A
strong positive value across many roundtables says the judge pays for length.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from amatelier.judging.scale import AXES
from amatelier.judging.scoring import WorkerScore

DEFAULT_SWAP_SHARE = 0.2
WORD = re.compile(r"\S+")
SPOKEN_KINDS = ("speech", "chat")


def swap_share(config: Mapping[str, Any]) -> float:
    """`judging.swap_audit_share` clamped to [0, 1] (default 0.2)."""
    raw = (config.get("judging") or {}).get("swap_audit_share", DEFAULT_SWAP_SHARE)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return DEFAULT_SWAP_SHARE
    return 0.0 if math.isnan(value) else min(1.0, max(0.0, value))


def should_audit(rt_id: str, share: float, forced: bool = False) -> bool:
    """Whether this roundtable gets the swap re-score: always when forced, else a stable `share` of ids."""
    if forced:
        return True
    if share <= 0:
        return False
    draw = int.from_bytes(hashlib.sha256(f"swap-audit:{rt_id}".encode()).digest()[:8], "big") / 2**64
    return draw < share


def seat_order(rt_id: str, seat_number: int, workers: Sequence[str]) -> list[str]:
    """The order a seat sees the workers in: shuffled per (roundtable, seat), so it is reproducible."""
    order = list(workers)
    seed = int.from_bytes(hashlib.sha256(f"seat-order:{rt_id}:{seat_number}".encode()).digest()[:8], "big")
    random.Random(seed).shuffle(order)
    return order


def flips(before: Mapping[str, WorkerScore], after: Mapping[str, WorkerScore]) -> tuple[float | None, list[dict[str, Any]], int]:
    """(flip rate, the changed scores, how many were compared) over (worker, axis) scored both times."""
    changed: list[dict[str, Any]] = []
    compared = 0
    for worker in sorted(set(before) & set(after)):
        first, second = before[worker], after[worker]
        if not (first.scored and second.scored):
            continue
        for axis in AXES:
            compared += 1
            if first.axes[axis] != second.axes[axis]:
                changed.append({"agent": worker, "axis": axis, "before": first.axes[axis],
                                "after": second.axes[axis]})
    if not compared:
        return None, [], 0
    return round(len(changed) / compared, 4), changed, compared


def word_counts(messages: Sequence[Mapping[str, Any]], workers: Sequence[str]) -> dict[str, int]:
    """Total words each worker posted as debate contributions."""
    counts = {worker: 0 for worker in workers}
    for message in messages:
        agent = message.get("agent")
        if agent in counts and message.get("kind", "speech") in SPOKEN_KINDS:
            counts[agent] += len(WORD.findall(str(message.get("content") or "")))
    return counts


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None for fewer than three pairs or when either side does not vary."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return round(sxy / math.sqrt(sxx * syy), 4)


def length_score(words: Mapping[str, int], scores: Mapping[str, WorkerScore]) -> dict[str, Any]:
    """Words and totals per scored worker and their correlation r (None when undefined)."""
    scored = [w for w in words if w in scores and scores[w].scored]
    totals = {w: int(scores[w].total or 0) for w in scored}
    r = pearson([float(words[w]) for w in scored], [float(totals[w]) for w in scored])
    return {"words": {w: words[w] for w in scored}, "totals": totals, "r": r}
