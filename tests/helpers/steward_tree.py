"""A small launch directory for Steward tests: registered files, unregistered ones, a secret outside."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from amatelier.steward import scope
from amatelier.steward.registry import Registry, load_registered_files

NOTES = "alpha line\nretry budget is 4 attempts\ngamma line\n"
SECRET = "TOP SECRET: do not leak\n"


@dataclass
class Tree:
    root: Path          # parent of the launch dir; holds secret.txt (outside the scope)
    launch: Path
    secret: Path

    def registry(self, section: str) -> Registry:
        return load_registered_files(f"# Brief\n\n## Steward-Registered Files\n{section}\n", self.launch)


def make_tree(base: Path) -> Tree:
    root = base / "outer"
    launch = root / "project"
    (launch / "docs" / "sub").mkdir(parents=True)
    (launch / "notes.md").write_text(NOTES, encoding="utf-8")
    (launch / "config.json").write_text(json.dumps(
        {"llm": {"mode": "auto", "retry": {"max_attempts": 4}}, "workers": ["elena", {"name": "x"}]}),
        encoding="utf-8")
    (launch / "settings.toml").write_text('[server]\nport = 8080\n', encoding="utf-8")
    (launch / "docs" / "a.md").write_text("# A\nthe retry policy is exponential\n", encoding="utf-8")
    (launch / "docs" / "sub" / "b.md").write_text("# B\nnothing here\n", encoding="utf-8")
    (launch / "docs" / ".env.md").write_text("API_KEY=hidden\n", encoding="utf-8")
    (launch / "unregistered.txt").write_text("not for the steward\n", encoding="utf-8")
    secret = root / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    return Tree(root=root, launch=launch, secret=secret)


def record_opens(monkeypatch: pytest.MonkeyPatch, *, resolve: bool) -> list[str]:
    """Every path the scope layer passes to os.open, as given or (``resolve``) as its realpath."""
    seen: list[str] = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        seen.append(os.path.realpath(os.fspath(path)) if resolve else os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(scope.os, "open", spy)
    return seen
