"""A jury of Judge seats: who sits, how their scores combine, how far they agree. Pure logic.

Config `judging.jury` lists the seats, each `{"model": <role token or model id>,
"backend": <mode, optional>}`; an empty list is one seat on the Judge's own model (the
behaviour and cost of a single Judge). Each seat scores every worker independently.

Combining: per worker and axis, the median of the seats' values snapped to the 0/1/2/3
scale (a half-way median goes to the lower value: the jury never inflates). A 10 stands
only when a majority of the seats gave it on that axis — each of those 10s already
carries its quote and before/after shift, or validation would have capped it at 3. A
penalty stands when a majority of the seats listed it.

Recusal: a seat whose model family is the worker's own is marked `self_family` for that
worker, and left out of that worker's median when another seat, not of that family,
scored the worker.

Agreement is Krippendorff's alpha (ordinal) over every (worker, axis) the seats scored,
computed by the `krippendorff` package.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amatelier.config import ConfigError
from amatelier.judging.scale import AXES, GRAND_INSIGHT, PENALTY_TYPES
from amatelier.judging.scoring import WorkerScore

JURY_KEY = "judging.jury"
MAX_SEATS = 7
SEAT_BACKENDS = ("claude-code", "anthropic-sdk", "openai-compat", "offline", "gemini")
_MODEL = re.compile(r"^[A-Za-z0-9][\w.:/@-]{0,119}$")
ORDINAL_DOMAIN = (0, 1, 2, 3, GRAND_INSIGHT)

# (family, prefixes of a provider segment or a model-name token)
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("anthropic", ("anthropic", "claude", "sonnet", "opus", "haiku")),
    ("openai", ("openai", "gpt", "chatgpt", "o1", "o3", "o4", "davinci")),
    ("google", ("google", "gemini", "gemma", "flash")),
    ("meta", ("meta", "llama")),
    ("mistral", ("mistral", "mixtral", "codestral", "ministral")),
    ("deepseek", ("deepseek",)),
    ("qwen", ("qwen", "alibaba")),
    ("xai", ("xai", "x-ai", "grok")),
)


@dataclass(frozen=True)
class Seat:
    """One judge on the jury: a model (role token or id) and optionally its own backend mode."""

    index: int
    model: str
    backend: str | None = None

    @property
    def number(self) -> int:
        return self.index + 1


@dataclass
class SeatResult:
    """What one seat answered: its scores, the order it saw the workers in, its model family."""

    seat: Seat
    order: list[str]
    scores: dict[str, WorkerScore] = field(default_factory=dict)
    backend: str = ""
    model_id: str = ""
    family: str | None = None
    repaired: bool = False
    error: str | None = None


# --------------------------------------------------------------------------- seats


def seats_from_config(config: Mapping[str, Any], source: str = "config") -> list[Seat]:
    """The jury's seats; raises ConfigError naming the key for a malformed entry."""
    judging = config.get("judging") or {}
    if not isinstance(judging, Mapping):
        raise ConfigError(source, "judging", "expected an object")
    raw = judging.get("jury") or []
    if not isinstance(raw, list):
        raise ConfigError(source, JURY_KEY, "expected a list of seats like {\"model\": \"sonnet\"}")
    if len(raw) > MAX_SEATS:
        raise ConfigError(source, JURY_KEY, f"at most {MAX_SEATS} seats, got {len(raw)}")
    if not raw:
        model = str((config.get("team") or {}).get("judge", {}).get("model") or "sonnet")
        return [Seat(index=0, model=model)]
    seats = []
    for i, entry in enumerate(raw):
        key = f"{JURY_KEY}[{i}]"
        if isinstance(entry, str):
            entry = {"model": entry}
        if not isinstance(entry, Mapping):
            raise ConfigError(source, key, "expected an object like {\"model\": \"sonnet\"}")
        unknown = sorted(set(entry) - {"model", "backend"})
        if unknown:
            raise ConfigError(source, f"{key}.{unknown[0]}", "unknown key (a seat has model and backend)")
        model = entry.get("model")
        if not isinstance(model, str) or not _MODEL.match(model.strip()):
            raise ConfigError(source, f"{key}.model", "expected a role token (sonnet, haiku, opus) or a model id")
        backend = entry.get("backend")
        if backend is not None and backend not in SEAT_BACKENDS:
            raise ConfigError(source, f"{key}.backend",
                              f"unknown backend {backend!r} (choose one of {', '.join(SEAT_BACKENDS)})")
        seats.append(Seat(index=i, model=model.strip(), backend=backend))
    return seats


def model_family(model_id: str | None) -> str | None:
    """The vendor family of a model id or role token (anthropic, openai, google, ...), else None."""
    text = (model_id or "").strip().lower()
    if not text:
        return None
    if text.startswith("offline-"):
        text = text[len("offline-"):]
    provider, _, _name = text.partition("/")
    tokens = re.split(r"[-_/:.@\s]+", text)
    for family, prefixes in FAMILIES:
        if "/" in text and any(provider.startswith(p) for p in prefixes):
            return family
    for family, prefixes in FAMILIES:
        if any(token.startswith(p) for token in tokens if token for p in prefixes):
            return family
    return None


# --------------------------------------------------------------------------- combining


def snap(value: float) -> int:
    """The nearest of 0/1/2/3; exactly half-way goes down."""
    bounded = min(3.0, max(0.0, value))
    low = math.floor(bounded)
    return int(low if bounded - low <= 0.5 else low + 1)


def combine_axis(values: Sequence[int]) -> int:
    """One axis from several seats: 10 on a majority of 10s, else the snapped median (10 counts as 3)."""
    if not values:
        raise ValueError("no values to combine")
    if sum(1 for v in values if v == GRAND_INSIGHT) * 2 > len(values):
        return GRAND_INSIGHT
    return snap(statistics.median(min(v, 3) for v in values))


def self_family_marks(results: Sequence[SeatResult], families: Mapping[str, str | None]) -> dict[str, list[int]]:
    """{worker: [seat numbers]} for every seat sharing a model family with the worker."""
    marks: dict[str, list[int]] = {}
    for worker, family in families.items():
        if family is None:
            continue
        hits = [r.seat.number for r in results if r.family == family]
        if hits:
            marks[worker] = hits
    return marks


def recused_seats(results: Sequence[SeatResult], worker: str, family: str | None) -> set[int]:
    """Seat numbers left out of `worker`'s median: same family, when another family's seat scored it."""
    if family is None:
        return set()
    scored = [r for r in results if worker in r.scores and r.scores[worker].scored]
    if not any(r.family != family for r in scored):
        return set()
    return {r.seat.number for r in scored if r.family == family}


def _majority_penalties(scores: Sequence[WorkerScore]) -> list[dict[str, str]]:
    kept = []
    for kind in PENALTY_TYPES:
        listed = [next(p for p in s.penalties if p["type"] == kind) for s in scores
                  if any(p["type"] == kind for p in s.penalties)]
        if len(listed) * 2 > len(scores):
            kept.append(dict(listed[0]))
    return kept


def combine_worker(worker: str, scores: Sequence[WorkerScore]) -> WorkerScore:
    """The jury's score for one worker from the seats' valid scores (one seat: that seat's score)."""
    if len(scores) == 1:
        return scores[0]
    axes = {axis: combine_axis([s.axes[axis] for s in scores]) for axis in AXES}
    insight = None
    tens = [axis for axis in AXES if axes[axis] == GRAND_INSIGHT]
    for axis in tens:
        source = next((s.grand_insight for s in scores
                       if s.axes.get(axis) == GRAND_INSIGHT and s.grand_insight), None)
        if insight is None and source is not None:
            insight = dict(source)
        else:
            axes[axis] = 3
    notes = [f"median of {len(scores)} seats"]
    notes += [n for s in scores for n in s.notes]
    rejected = None if insight else next((s.grand_insight_rejected for s in scores if s.grand_insight_rejected), None)
    return WorkerScore(agent=worker, axes=axes, reason=scores[0].reason, penalties=_majority_penalties(scores),
                       grand_insight=insight, notes=notes, grand_insight_rejected=rejected)


def combine(results: Sequence[SeatResult], workers: Sequence[str],
            families: Mapping[str, str | None] | None = None) -> tuple[dict[str, WorkerScore], list[dict[str, Any]]]:
    """Final scores per worker and the recusals applied ({seat, agent, family})."""
    families = families or {}
    final: dict[str, WorkerScore] = {}
    recusals: list[dict[str, Any]] = []
    for worker in workers:
        left_out = recused_seats(results, worker, families.get(worker))
        recusals += [{"seat": n, "agent": worker, "family": families.get(worker)} for n in sorted(left_out)]
        valid = [r.scores[worker] for r in results
                 if worker in r.scores and r.scores[worker].scored and r.seat.number not in left_out]
        if valid:
            final[worker] = combine_worker(worker, valid)
            continue
        why = [f"seat {r.seat.number}: {r.scores[worker].unscored_reason if worker in r.scores else r.error}"
               for r in results]
        reason = why[0].split(": ", 1)[1] if len(results) == 1 else "no seat scored validly (" + "; ".join(why) + ")"
        final[worker] = WorkerScore(agent=worker, unscored_reason=reason or "no score")
    return final, recusals


# --------------------------------------------------------------------------- agreement


def alpha_available() -> bool:
    """Whether the `krippendorff` package (extra `jury`) is installed; without it alpha is null."""
    import importlib.util

    return importlib.util.find_spec("krippendorff") is not None


def reliability_matrix(results: Sequence[SeatResult], workers: Sequence[str]) -> list[list[float]]:
    """Rows = seats, columns = (worker, axis); NaN where a seat has no valid score."""
    rows = []
    for result in results:
        row = []
        for worker in workers:
            score = result.scores.get(worker)
            for axis in AXES:
                row.append(float(score.axes[axis]) if score is not None and score.scored else math.nan)
        rows.append(row)
    return rows


def krippendorff_alpha(results: Sequence[SeatResult], workers: Sequence[str]) -> float | None:
    """Ordinal alpha over the seats' scores; None with fewer than two seats or nothing to compare."""
    if len(results) < 2 or not alpha_available():
        return None
    import krippendorff
    import numpy as np

    data = np.array(reliability_matrix(results, workers), dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if not pairable.any():
        return None
    data = data[:, pairable]
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal",
                                       value_domain=list(ORDINAL_DOMAIN))
    except (ValueError, ZeroDivisionError):
        return None
    value = float(value)
    # NaN: no variation at all (every unit got the same single value): agreement is undefined.
    return None if math.isnan(value) else round(value, 4)
