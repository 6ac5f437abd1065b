"""What one Steward lookup produced; every path (deterministic, model, refusal) returns one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "out_of_scope", "not_found", "timeout", "error", "denied_budget")


@dataclass
class StewardResult:
    """status is one of STATUSES; `path` is the path(s) the lookup used, as agents see them."""

    status: str
    output: str = ""
    path: str = ""
    bytes: int = 0                 # bytes read from the user's files
    elapsed_s: float = 0.0
    method: str = ""               # deterministic kind, or subagent:<mode>
    usage: list[Any] = field(default_factory=list, repr=False)   # Completions to record

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown steward status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"
