"""The arithmetic of the spark economy, as pure functions.

Everything that decides how many sparks move lives here, free of I/O, so the rules
(fee tiers, the penalty floor, the gate cap, the grand-insight rule, relegation) can be
tested exhaustively and read in one place. amatelier.economy.ledger writes the results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amatelier.judging.scale import (  # noqa: F401 - the economy settles on the judge's scale
    AXES,
    CAPPED_GRAND_INSIGHT,
    GRAND_INSIGHT,
    PENALTY_TYPES,
    SCALE,
    apply_grand_insight_rule,
    axes_total,
    grand_insight_complete,
    is_valid_axis,
)

FEE_TIERS: tuple[str, ...] = ("haiku", "flash", "sonnet", "opus")
VENTURE_TIERS: tuple[str, ...] = ("scout", "venture", "moonshot")

# Used when a config lacks a key (the bundled config.json carries the same numbers).
DEFAULTS: dict[str, Any] = {
    "entry_fees": {"haiku": 5, "flash": 5, "sonnet": 8, "opus": 15},
    "penalties": {"redundancy": -3, "hallucination": -5, "off_directive": -5},
    "gate_bonus": {"sparks": 3, "max_per_rt": 3},
    "rt_outcome_bonus": 5,
    "relegation": {"consecutive_net_negative": 3, "bench_income": 2},
    "ventures": {
        "scout": {"stake": 5, "multiplier": 3.0},
        "venture": {"stake": 12, "multiplier": 3.5},
        "moonshot": {"stake": 30, "multiplier": 4.0},
    },
}


def competition(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `competition` config section with defaults filled in for missing keys."""
    section = dict((config or {}).get("competition", {}) or {})
    merged: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = section.get(key, default)
        if isinstance(default, dict) and isinstance(value, dict):
            value = {**default, **value}
        merged[key] = value
    for key, value in section.items():
        merged.setdefault(key, value)
    return merged


# --------------------------------------------------------------------------- fees


def fee_tier(model: str) -> str:
    """Map a configured model (role token or literal id) to its entry-fee tier."""
    lowered = (model or "").lower()
    for tier in ("opus", "haiku", "flash", "sonnet"):
        if tier in lowered:
            return tier
    if "gemini" in lowered:
        return "flash"
    return "sonnet"


def entry_fee(config: Mapping[str, Any] | None, model: str) -> int:
    """The flat per-roundtable entry fee for a worker on `model` (haiku 5, flash 5, sonnet 8, opus 15)."""
    fees = competition(config)["entry_fees"]
    return int(fees.get(fee_tier(model), fees.get("sonnet", 8)))


def penalty_value(config: Mapping[str, Any] | None, penalty_type: str) -> int:
    """Sparks (negative) for one penalty of this type; unknown types cost nothing."""
    return int(competition(config)["penalties"].get(penalty_type, 0))


@dataclass(frozen=True)
class ScoreSettlement:
    """How one worker's Judge score turns into sparks for a roundtable.

    gross: the four axes summed; penalty_nominal: what the penalties would take;
    penalty_applied: what they do take (never more than gross: the floor is 0);
    credited = gross + penalty_applied >= 0.
    """

    gross: int
    penalty_nominal: int
    penalty_applied: int
    credited: int
    penalties: tuple[tuple[str, int], ...] = field(default_factory=tuple)


def settle_score(gross: int, penalty_types: Iterable[str], config: Mapping[str, Any] | None = None) -> ScoreSettlement:
    """Apply penalties to a gross score, flooring the result at 0 (the fee is separate)."""
    if gross < 0:
        raise ValueError("gross score cannot be negative")
    itemised = tuple((kind, penalty_value(config, kind)) for kind in penalty_types)
    nominal = sum(value for _, value in itemised)
    credited = max(0, gross + nominal)
    return ScoreSettlement(gross=gross, penalty_nominal=nominal, penalty_applied=credited - gross,
                           credited=credited, penalties=itemised)


def rt_net(credited: int, fee: int, gates: int = 0) -> int:
    """The relegation measure for one roundtable: gross (score after penalties, plus gate
    bonuses) minus the entry fee."""
    return credited + gates - abs(fee)


# --------------------------------------------------------------------------- gates, ventures, bench


def gate_awards(already_awarded: int, requested: int, config: Mapping[str, Any] | None = None) -> int:
    """How many of `requested` new GATE signals still pay, given the per-RT cap."""
    cap = int(competition(config)["gate_bonus"].get("max_per_rt", 3))
    return max(0, min(requested, cap - already_awarded))


def gate_sparks(config: Mapping[str, Any] | None = None) -> int:
    return int(competition(config)["gate_bonus"].get("sparks", 3))


def venture_terms(config: Mapping[str, Any] | None, tier: str) -> tuple[int, float]:
    """(stake, multiplier) for a venture tier; KeyError for an unknown tier."""
    terms = competition(config)["ventures"][tier]
    return int(terms["stake"]), float(terms["multiplier"])


def venture_payout(stake: int, multiplier: float) -> int:
    """Sparks paid on a successful venture: stake x multiplier, rounded half up."""
    return int(math.floor(stake * multiplier + 0.5))


def outcome_bonus(config: Mapping[str, Any] | None = None) -> int:
    return int(competition(config)["rt_outcome_bonus"])


def bench_income(config: Mapping[str, Any] | None = None) -> int:
    return int(competition(config)["relegation"].get("bench_income", 2))


def relegation_at_risk(nets: Sequence[int], config: Mapping[str, Any] | None = None) -> bool:
    """At risk when the most recent N roundtables (oldest first in `nets`) were all net-negative."""
    needed = int(competition(config)["relegation"].get("consecutive_net_negative", 3))
    recent = list(nets)[-needed:]
    return len(recent) == needed and all(net < 0 for net in recent)


def negative_streak(nets: Sequence[int]) -> int:
    """How many of the latest roundtables in a row were net-negative."""
    streak = 0
    for net in reversed(list(nets)):
        if net >= 0:
            break
        streak += 1
    return streak
