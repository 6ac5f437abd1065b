"""What the runner knows about one roundtable while it runs; handed to every phase and hook."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RoundtableState:
    rt_id: str
    topic: str
    briefing_text: str
    briefing_path: Path
    launch_dir: Path                      # cwd the roundtable was launched from (steward scope)
    workers: list[str]                    # scoring workers taking part
    judge: str
    config: dict[str, Any]
    conn: sqlite3.Connection
    mode: str                             # resolved LLM mode (offline, claude-code, ...)
    max_rounds: int
    budget_per_agent: int
    skip_post: bool = False
    audit_judge: bool = False             # --audit-judge: always run the Judge's order-swap audit
    speaker_timeout_s: float = 200.0
    budgets: dict[str, int] = field(default_factory=dict)        # floor budget remaining
    budget_start: dict[str, int] = field(default_factory=dict)   # floor budget at open (after boosts)
    speaking_order: list[str] = field(default_factory=list)
    current_round: int = 0
    current_phase: str = ""
    converged: bool = False
    convergence_reason: str | None = None
    stop_reason: str | None = None        # set when a ceiling stopped the debate (chat.ceilings)
    stability_scores: dict[int, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)          # per-area scratch space (hooks)
