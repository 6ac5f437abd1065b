"""What an offline responder sees of a call."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class OfflineRequest:
    system: str
    prompt: str
    model: str
    task: str
    agent: str

    def rng(self, salt: str = "") -> random.Random:
        """A random source seeded by the request, so the same call answers the same way."""
        seed = hashlib.sha256(
            "\x1f".join((self.task, self.agent, self.model, self.prompt, salt)).encode("utf-8")
        ).digest()
        return random.Random(int.from_bytes(seed[:8], "big"))
