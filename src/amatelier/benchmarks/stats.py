"""Baseline vs specialist: means, their difference, and how sure we can be of it (pure).

The bootstrap resamples each group's runs with replacement and reads the interval of the
difference of means off the resampled differences. It uses a fixed seed, so the same runs
always give the same interval: a snapshot's comparison can be recomputed from its runs and
checked. With few runs the interval is wide, and the statement says so in words.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

BASELINE, SPECIALIST = "seed", "current"
RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 20261128


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def bootstrap_interval(baseline: Sequence[float], specialist: Sequence[float], *,
                       resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                       seed: int = SEED) -> tuple[float, float] | None:
    """Percentile bootstrap interval of mean(specialist) - mean(baseline); None below 2 runs each."""
    if len(baseline) < 2 or len(specialist) < 2:
        return None
    rng = random.Random(seed)
    nb, ns = len(baseline), len(specialist)
    diffs = []
    for _ in range(resamples):
        b = sum(baseline[rng.randrange(nb)] for _ in range(nb)) / nb
        s = sum(specialist[rng.randrange(ns)] for _ in range(ns)) / ns
        diffs.append(s - b)
    diffs.sort()
    tail = (1.0 - confidence) / 2.0
    low = diffs[max(0, int(tail * resamples))]
    high = diffs[min(resamples - 1, int((1.0 - tail) * resamples) - 1)]
    return round(low, 6), round(high, 6)


def _group(runs: Iterable[dict[str, Any]], persona_set: str) -> list[float]:
    return [float(r["overall_score"]) for r in runs
            if r.get("persona_set") == persona_set and isinstance(r.get("overall_score"), (int, float))]


def compare(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Baseline and specialist means, improvement, percent, interval, per model.

    `runs` are snapshot-style runs: each has `persona_set`, `overall_score` and `model`.
    """
    base, spec = _group(runs, BASELINE), _group(runs, SPECIALIST)
    result = _numbers(base, spec)
    models = sorted({str(r.get("model")) for r in runs if r.get("model") is not None})
    result["models_compared"] = [
        {"model": model, **_numbers(_group([r for r in runs if str(r.get("model")) == model], BASELINE),
                                    _group([r for r in runs if str(r.get("model")) == model], SPECIALIST))}
        for model in models
    ]
    return result


def _numbers(base: list[float], spec: list[float]) -> dict[str, Any]:
    b, s = mean(base), mean(spec)
    improvement = round(s - b, 6) if b is not None and s is not None else None
    pct = round(improvement / b * 100.0, 4) if improvement is not None and b else None
    interval = bootstrap_interval(base, spec)
    return {
        "baseline_avg_score": b,
        "specialist_avg_score": s,
        "improvement": improvement,
        "improvement_pct": pct,
        "baseline_runs": len(base),
        "specialist_runs": len(spec),
        "interval": ({"method": "percentile bootstrap", "confidence": CONFIDENCE, "resamples": RESAMPLES,
                      "seed": SEED, "low": interval[0], "high": interval[1]} if interval else None),
    }


def statement(numbers: dict[str, Any]) -> str:
    """A plain sentence about what the comparison shows, so noise is not read as progress."""
    nb, ns = numbers.get("baseline_runs", 0), numbers.get("specialist_runs", 0)
    if not nb or not ns:
        return (f"No comparison: {nb} baseline (seed) and {ns} specialist (current) runs; "
                "run the suite with --compare seed,current.")
    diff = numbers["improvement"]
    head = (f"specialist {numbers['specialist_avg_score']:.3f} vs baseline {numbers['baseline_avg_score']:.3f}: "
            f"difference {diff:+.3f} over {ns} specialist and {nb} baseline runs")
    interval = numbers.get("interval")
    if interval is None:
        return head + "; too few runs to say how uncertain this is (need at least 2 of each)."
    span = f"{int(interval['confidence'] * 100)}% bootstrap interval {interval['low']:+.3f} to {interval['high']:+.3f}"
    if interval["low"] > 0:
        verdict = "the current personas score higher in this batch"
    elif interval["high"] < 0:
        verdict = "the current personas score lower in this batch"
    else:
        verdict = "the interval includes 0, so this is not evidence of a difference"
    rough = (" With fewer than 5 runs a side the interval itself is rough; add --repeats before trusting it."
             if min(nb, ns) < 5 else "")
    return f"{head}; {span}: {verdict}.{rough}"
