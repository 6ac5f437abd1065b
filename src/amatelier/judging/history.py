"""The Judge's numbers over time, from digests: agreement and the order-swap flip rate per roundtable."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any


def judging_trend(digests: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per judged roundtable (digest order): seats, alpha, audited, flip rate; and their means.

    `flip_rate.mean` is over audited roundtables only; `alpha.mean` over juried ones (2+ seats).
    """
    series = []
    for digest in digests:
        judging = digest.get("judging") if isinstance(digest, Mapping) else None
        if not isinstance(judging, Mapping) or not judging.get("seats"):
            continue
        audit = judging.get("audit") if isinstance(judging.get("audit"), Mapping) else {}
        series.append({"rt_id": digest.get("rt_id"), "ended_at": digest.get("ended_at"),
                       "seats": len(judging.get("seats") or []), "alpha": judging.get("alpha"),
                       "audited": bool(audit.get("audited")), "flip_rate": judging.get("flip_rate"),
                       "length_score_r": (judging.get("length_score") or {}).get("r")})
    flips = [s["flip_rate"] for s in series if s["audited"] and isinstance(s["flip_rate"], int | float)]
    alphas = [s["alpha"] for s in series if isinstance(s["alpha"], int | float)]
    return {"roundtables": series,
            "flip_rate": {"audited": len(flips), "mean": round(statistics.fmean(flips), 4) if flips else None},
            "alpha": {"juried": len(alphas), "mean": round(statistics.fmean(alphas), 4) if alphas else None}}
