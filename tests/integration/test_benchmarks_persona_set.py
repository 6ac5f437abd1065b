"""A worker on a `seed` benchmark run reads the bundled persona; on `current`, the user's evolved one."""

from __future__ import annotations

import pytest

from amatelier import paths
from amatelier.chat import roundtables
from amatelier.chat.db import open_db
from amatelier.debate.worker import Worker

MARK = "EVOLVED-MARKER: always cite the ledger"


@pytest.mark.parametrize("persona_set, sees_evolved", [("seed", False), ("current", True), (None, True)])
def test_which_persona_a_worker_reads(persona_set: str | None, sees_evolved: bool) -> None:
    conn = open_db()
    elena = paths.user_agent_dir("elena")
    (elena / "CLAUDE.md").write_text((elena / "CLAUDE.md").read_text() + f"\n{MARK}\n", encoding="utf-8")
    (elena / "MEMORY.md").write_text("I remember the offsite.\n", encoding="utf-8")
    judge_dir = paths.user_agent_dir("judge")
    (judge_dir / "CLAUDE.md").write_text("# Judge\nJUDGE-LOCAL-EDIT\n", encoding="utf-8")
    rt_id = roundtables.open_roundtable(conn, "split?", ["elena", "judge"])
    if persona_set is not None:
        roundtables.mark_benchmark(conn, rt_id, "batch-1764000000000-abcdefghi", persona_set)
    worker_system = Worker(rt_id, "elena", conn=conn).system()
    assert (MARK in worker_system) is sees_evolved
    assert ("I remember the offsite." in worker_system) is sees_evolved
    bundled = (paths.bundled_agent_dir("elena") / "CLAUDE.md").read_text(encoding="utf-8").strip()
    assert bundled.splitlines()[0] in worker_system
    # the Judge is the measuring instrument: the same persona on both persona sets
    assert "JUDGE-LOCAL-EDIT" in Worker(rt_id, "judge", conn=conn).system()
    conn.close()
