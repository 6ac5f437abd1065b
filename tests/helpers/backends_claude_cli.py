"""The real Claude Code CLI for wire tests: where it is, a skip mark, and pointing it at a fake.

The CLI is installed by scripts/install_claude_cli.sh (pinned version, into ./.tools) or
named by AMATELIER_TEST_CLAUDE_BIN. Without it, tests marked ``needs_cli`` skip and say why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def find_claude() -> str | None:
    """AMATELIER_TEST_CLAUDE_BIN when set (and executable), else the pinned ./.tools install."""
    explicit = os.environ.get("AMATELIER_TEST_CLAUDE_BIN", "").strip()
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    local = REPO / ".tools" / "claude-cli" / "node_modules" / ".bin" / "claude"
    return str(local) if os.access(local, os.X_OK) else None


CLAUDE = find_claude()
needs_cli = pytest.mark.skipif(
    CLAUDE is None,
    reason="Claude Code CLI not installed: run `bash scripts/install_claude_cli.sh` (needs npm) "
           "or set AMATELIER_TEST_CLAUDE_BIN",
)


def point_claude_at(monkeypatch: pytest.MonkeyPatch, url: str, config_dir: Path, *,
                    api_key: str) -> None:
    """Run CLAUDE (via AMATELIER_CLAUDE_BIN) against the fake at `url`, with its own config dir."""
    monkeypatch.setenv("AMATELIER_CLAUDE_BIN", CLAUDE or "")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", api_key)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config_dir))
