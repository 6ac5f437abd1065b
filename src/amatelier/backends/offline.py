"""Deterministic, network-free backend that knows the roundtable protocol.

It is never auto-selected: a user asks for it with AMATELIER_MODE=offline. It lets a
whole roundtable (speeches, rebuttals, floor passes, judge gates, scoring, distilling,
therapy, steward requests) run on a machine with no key, and makes the engine testable.
Each task's answers live in amatelier.offline.<module>; this class only dispatches.

AMATELIER_OFFLINE_DELAY_MS (default 0) pauses every call that many milliseconds, to
simulate model latency so a person can follow an offline roundtable with `amatelier watch`.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import time
from typing import Any

from amatelier.backends.base import Completion, LLMBackend
from amatelier.offline.request import OfflineRequest

# task -> module under amatelier.offline that provides respond(request) -> str
TASK_MODULES: dict[str, str] = {
    "speak": "debate",
    "rebuttal": "debate",
    "floor": "debate",
    "research": "steward",
    "gate": "debate",
    "score": "scoring",
    "score-repair": "scoring",
    "score-swap": "scoring",
    "score-swap-repair": "scoring",
    "distill": "learning",
    "distill-gate": "learning",
    "therapist": "learning",
    "therapist-agent": "learning",
    "steward": "steward",
    "decision": "decision",
    "decision-repair": "decision",
}


class OfflineBackend(LLMBackend):
    name = "offline"

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        return True, "always available; chosen only with AMATELIER_MODE=offline or llm.mode=offline"

    def resolve_model(self, model: str) -> str:
        return f"offline-{model}"

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None, agent: str | None = None) -> Completion:
        started = time.perf_counter()
        request = OfflineRequest(system=system, prompt=prompt, model=model, task=task or "",
                                 agent=agent or "")
        text = respond(request)
        delay = delay_seconds()
        if delay:
            time.sleep(delay)  # simulated model latency (AMATELIER_OFFLINE_DELAY_MS), not a wait on anything
        latency = (time.perf_counter() - started) * 1000.0
        return Completion(
            text=text,
            backend=self.name,
            model=self.resolve_model(model),
            input_tokens=approx_tokens(system) + approx_tokens(prompt),
            output_tokens=approx_tokens(text),
            latency_ms=latency,
            stop_reason="end_turn",
            cost_usd=0.0,
        )


DELAY_ENV = "AMATELIER_OFFLINE_DELAY_MS"


def delay_seconds() -> float:
    """The simulated per-call latency from AMATELIER_OFFLINE_DELAY_MS (0 when unset or invalid)."""
    try:
        return max(0.0, float(os.environ.get(DELAY_ENV, "0") or 0)) / 1000.0
    except ValueError:
        return 0.0


def respond(request: OfflineRequest) -> str:
    module_name = TASK_MODULES.get(request.task)
    if module_name:
        try:
            module = importlib.import_module(f"amatelier.offline.{module_name}")
        except ModuleNotFoundError:
            module = None
        if module is not None:
            return module.respond(request)
    return generic_reply(request)


def generic_reply(request: OfflineRequest) -> str:
    digest = hashlib.sha256(request.prompt.encode("utf-8")).hexdigest()[:8]
    who = request.agent or "assistant"
    return f"[offline] {who} acknowledges the request ({digest}); no model was called."


def approx_tokens(text: str) -> int:
    """Roughly four characters a token: enough for usage totals to be meaningful offline."""
    return max(1, len(text) // 4) if text else 0
