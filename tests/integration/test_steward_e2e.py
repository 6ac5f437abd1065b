"""Must show: an offline roundtable whose briefing registers a file.

The real CLI runs the runner, real worker processes and real SQLite in a temp workspace.
In the research window each offline agent asks for a registered file and for one outside
the scope. The digest's steward_log must show the in-scope lookup answered with the
file's content and the out-of-scope one refused, and the runner process (audited with
AMATELIER_TEST_AUDIT_OPENS) must never have opened a file outside the registered set.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(importlib.util.find_spec("amatelier.debate.runner") is None,
                       reason="the roundtable runner (amatelier.debate.runner) is not on this branch yet"),
]

MARKER = "STEWARD-E2E-MARKER: the retry budget is 4 attempts"
WORKERS = ["elena", "marcus"]


def clean_env(workspace: Path, audit: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("AMATELIER_")}
    env.update({"AMATELIER_WORKSPACE": str(workspace), "AMATELIER_MODE": "offline",
                "AMATELIER_TEST_AUDIT_OPENS": str(audit), "PYTHONIOENCODING": "utf-8"})
    return env


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    base = tmp_path_factory.mktemp("steward-e2e")
    outer = base / "outer"
    launch = outer / "project"
    launch.mkdir(parents=True)
    (launch / "notes.md").write_text(f"# Notes\n{MARKER}\nthird line\n", encoding="utf-8")
    (launch / "unregistered.txt").write_text("must never be read\n", encoding="utf-8")
    (outer / "secret.txt").write_text("TOP SECRET\n", encoding="utf-8")
    briefing = base / "briefing.md"
    briefing.write_text(
        "# Briefing: retries\n\n## Objective\nShould the retry budget change?\n\n"
        "## Context\nThe notes file records the current budget.\n\n"
        "## Steward-Registered Files\n- `notes.md` — team notes\n", encoding="utf-8")
    workspace = base / "ws"
    audit = base / "opens.log"
    result = subprocess.run(
        [sys.executable, "-m", "amatelier", "roundtable", "--topic", "retry budget?",
         "--briefing", str(briefing), "--workers", ",".join(WORKERS), "--max-rounds", "1",
         "--skip-post"],
        cwd=launch, env=clean_env(workspace, audit), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    digest = json.loads(result.stdout)
    return {"digest": digest, "launch": launch.resolve(), "outer": outer.resolve(),
            "workspace": workspace, "audit": audit}


def test_digest_steward_log_shows_answer_and_refusal(finished) -> None:
    digest = finished["digest"]
    assert digest["steward_enabled"] is True
    log = digest["steward_log"]
    for agent in WORKERS:
        mine = [e for e in log if e["agent"] == agent]
        assert [e["status"] for e in mine] == ["ok", "out_of_scope"], mine
        answered, refused = mine
        assert answered["path"] == "notes.md" and answered["request"] == "lines 1-40 of notes.md"
        assert MARKER in answered["output"] and answered["bytes"] > 0
        assert answered["round"] == 0 and answered["free"] is True
        assert refused["bytes"] == 0 and "TOP SECRET" not in refused["output"]
        assert refused["path"] in ("../secret.txt", "/etc/passwd", "../../.ssh/id_rsa")


def test_results_were_posted_to_the_chat(finished) -> None:
    db = finished["workspace"] / "roundtable-server" / "roundtable.db"
    conn = sqlite3.connect(str(db))
    try:
        rows = conn.execute("SELECT agent, kind, content FROM messages WHERE rt_id = ? ORDER BY id",
                            (finished["digest"]["rt_id"],)).fetchall()
    finally:
        conn.close()
    steward = [content for agent, kind, content in rows if kind == "steward"]
    assert len(steward) == 2 * len(WORKERS)
    assert sum(MARKER in c for c in steward) == len(WORKERS)
    assert sum("REFUSED (out of scope)" in c for c in steward) == len(WORKERS)
    assert not any("TOP SECRET" in content for _, _, content in rows)
    window = [c for _, kind, c in rows if kind == "phase" and "RESEARCH WINDOW" in c]
    assert window and window[0].startswith("--- RESEARCH WINDOW")


def test_no_file_outside_the_registered_set_was_opened(finished) -> None:
    opened = {os.path.realpath(line) for line in
              finished["audit"].read_text(encoding="utf-8").splitlines() if line}
    launch, outer = str(finished["launch"]), str(finished["outer"])
    registered = {str(finished["launch"] / "notes.md")}
    assert registered <= opened, "the audit saw the registered read (so it was active)"
    touched = {p for p in opened if p == outer or p.startswith(outer + os.sep)}
    assert touched <= registered, f"opened outside the registered set: {touched - registered}"
    assert not any(p in ("/etc/passwd",) or p.endswith("/.ssh/id_rsa") for p in opened)
    assert launch not in opened
