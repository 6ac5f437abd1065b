"""Claude Code CLI backend (`claude -p --output-format json`)."""

from __future__ import annotations

import os
import shutil
from typing import Any

from amatelier.backends.base import Completion, LLMBackend


def claude_executable() -> str | None:
    """The claude CLI to run: AMATELIER_CLAUDE_BIN when set, else `claude` on PATH."""
    explicit = os.environ.get("AMATELIER_CLAUDE_BIN", "").strip()
    if explicit:
        return explicit if os.path.exists(explicit) else None
    return shutil.which("claude")


class ClaudeCLIBackend(LLMBackend):
    name = "claude-code"

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        exe = claude_executable()
        if exe:
            return True, f"claude CLI found at {exe}"
        return False, "claude CLI not on PATH (install Claude Code: npm install -g @anthropic-ai/claude-code)"

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        raise NotImplementedError("ClaudeCLIBackend.complete is built by the foundation issue")
