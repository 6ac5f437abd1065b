"""Ceilings on what a roundtable may spend: pure rules, no I/O.

A roundtable may run under up to three limits: dollars (`max_cost_usd`), tokens
(`max_tokens`, input incl. cached + output) and wall time (`max_minutes`). Before every model
call, the call's worst case (its prompt tokens and `max_tokens` at the model's prices) is
added to what was spent and what calls in flight hold; if the sum would pass the limit less
the share kept for the closing decision, the call is not made and the roundtable stops with
a `stop_reason` naming the ceiling, the spent amount and the limit. The closing decision
itself may use the kept share, so a ceiling is never exceeded and the decision still fits.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RESERVE_SHARE = 0.10
#: roles allowed to spend the reserved share (the closing decision synthesis)
DECISION_ROLES = frozenset({"decision"})
CEILINGS = ("max_cost_usd", "max_tokens", "max_minutes")


@dataclass(frozen=True)
class Limits:
    """The limits a roundtable runs under; None = no such limit."""

    max_cost_usd: float | None = None
    max_tokens: int | None = None
    max_minutes: float | None = None
    reserve_share: float = DEFAULT_RESERVE_SHARE

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.max_cost_usd, self.max_tokens, self.max_minutes))

    def as_dict(self) -> dict[str, float | int | None]:
        return {"max_cost_usd": self.max_cost_usd, "max_tokens": self.max_tokens,
                "max_minutes": self.max_minutes, "reserve_share": self.reserve_share}


@dataclass(frozen=True)
class Spent:
    """What the roundtable has used so far (recorded calls plus calls in flight)."""

    cost_usd: float = 0.0
    tokens: int = 0
    minutes: float = 0.0
    held_cost_usd: float = 0.0        # part of cost_usd held by calls still in flight
    held_tokens: int = 0              # part of tokens held by calls still in flight


@dataclass(frozen=True)
class Estimate:
    """The worst case of the next call; cost None when its model has no price."""

    cost_usd: float | None
    tokens: int


@dataclass(frozen=True)
class Verdict:
    """Whether the next call fits; when not, which ceiling, how much was spent, the limit."""

    fits: bool
    ceiling: str | None = None
    spent: float = 0.0
    limit: float = 0.0
    needed: float = 0.0
    held: float = 0.0                 # of `spent`, what calls in flight hold (may still be freed)

    @property
    def stop_reason(self) -> str | None:
        return None if self.fits else stop_reason(self.ceiling or "", self.spent - self.held,
                                                  self.limit, self.needed, self.held)


def usable(limit: float, reserve_share: float, *, for_decision: bool) -> float:
    """The part of a limit an ordinary call may use (the decision may use all of it)."""
    return limit if for_decision else limit * (1.0 - min(max(reserve_share, 0.0), 0.9))


def check_call(limits: Limits, spent: Spent, estimate: Estimate, *, role: str | None = None) -> Verdict:
    """Would the next call fit under every limit? (pure; see the module doc for the rule)."""
    decision = role in DECISION_ROLES
    share = limits.reserve_share
    if limits.max_cost_usd is not None:
        room = usable(limits.max_cost_usd, share, for_decision=decision)
        if estimate.cost_usd is None or spent.cost_usd + estimate.cost_usd > room + 1e-12:
            return Verdict(False, "max_cost_usd", spent.cost_usd, limits.max_cost_usd,
                           estimate.cost_usd if estimate.cost_usd is not None else float("nan"),
                           spent.held_cost_usd)
    if limits.max_tokens is not None:
        room = usable(float(limits.max_tokens), share, for_decision=decision)
        if spent.tokens + estimate.tokens > room:
            return Verdict(False, "max_tokens", float(spent.tokens), float(limits.max_tokens),
                           float(estimate.tokens), float(spent.held_tokens))
    if limits.max_minutes is not None:
        room = usable(limits.max_minutes, share, for_decision=decision)
        if spent.minutes >= room:
            return Verdict(False, "max_minutes", spent.minutes, limits.max_minutes, 0.0)
    return Verdict(True)


def seconds_left(limits: Limits, spent: Spent, *, role: str | None = None) -> float | None:
    """Wall time an allowed call may still take before the time limit (None: no time limit)."""
    if limits.max_minutes is None:
        return None
    room = usable(limits.max_minutes, limits.reserve_share, for_decision=role in DECISION_ROLES)
    return max(0.0, (room - spent.minutes) * 60.0)


def _amount(ceiling: str, value: float) -> str:
    if ceiling == "max_cost_usd":
        return f"${value:.4f}"
    if ceiling == "max_tokens":
        return f"{int(value)} tokens"
    return f"{value * 60:.1f} s" if value < 1 else f"{value:.1f} min"


def stop_reason(ceiling: str, spent: float, limit: float, needed: float = 0.0, held: float = 0.0) -> str:
    """`ceiling max_cost_usd reached: spent $0.0171 of the $0.0200 limit (...)`, one line."""
    line = f"ceiling {ceiling} reached: spent {_amount(ceiling, spent)}"
    if held > 0:
        line += f" (+{_amount(ceiling, held)} held by calls in flight)"
    line += f" of the {_amount(ceiling, limit)} limit"
    if ceiling == "max_cost_usd" and needed != needed:  # NaN: the next model has no price
        return line + " (the next call's model has no price, so it could not be bounded)"
    if needed > 0:
        line += f"; the next call could need up to {_amount(ceiling, needed)}"
    return line


def limits_from(values: dict[str, float | int | None], reserve_share: float | None = None) -> Limits:
    """Limits from flags/config values, where 0 or None means no limit."""

    def positive(key: str) -> float | None:
        value = values.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None

    tokens = positive("max_tokens")
    share = DEFAULT_RESERVE_SHARE if reserve_share is None else float(reserve_share)
    return Limits(max_cost_usd=positive("max_cost_usd"), max_tokens=int(tokens) if tokens else None,
                  max_minutes=positive("max_minutes"), reserve_share=share)
