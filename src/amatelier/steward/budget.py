"""How many Steward requests each agent may still make in one roundtable."""

from __future__ import annotations

import threading


class StewardBudget:
    """Per-agent, per-RT request budget (config steward.budget_per_agent, default 3).

    The research window uses its own instance (steward.research_window_budget), so its
    free requests never touch the debate budget.
    """

    def __init__(self, per_agent: int = 3, agents: list[str] | None = None) -> None:
        self.per_agent = max(0, int(per_agent))
        self._spent: dict[str, int] = {name: 0 for name in agents or []}
        self._lock = threading.Lock()

    def remaining(self, agent: str) -> int:
        with self._lock:
            return self.per_agent - self._spent.get(agent, 0)

    def spend(self, agent: str) -> bool:
        """Deduct 1 from the agent's budget. Returns False (and spends nothing) when out of budget."""
        with self._lock:
            spent = self._spent.get(agent, 0)
            if spent >= self.per_agent:
                return False
            self._spent[agent] = spent + 1
            return True

    def status(self) -> dict[str, int]:
        """Remaining requests per agent seen so far."""
        with self._lock:
            return {name: self.per_agent - spent for name, spent in self._spent.items()}
