"""The FTS5 index through sqlite-utils: built by migration 010, kept current by triggers,
existing databases backfilled once with progress."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from tests.helpers.old_databases import apply_migration_file

from amatelier.chat import db as chatdb
from amatelier.chat.messages import post
from amatelier.chat.roundtables import open_roundtable
from amatelier.migrations import search_schema
from amatelier.search import index, query
from amatelier.search.precedents import (
    HEADING,
    Precedent,
    annotate,
    find_precedents,
    precedent_query,
    precedents_block,
    stance,
)


def _old_database(path: Path) -> sqlite3.Connection:
    """A database as it was before migration 010 (every migration below 010 applied)."""
    conn = chatdb.connect(path)
    chatdb.applied_versions(conn)
    for version, name, file in chatdb.available_migrations():
        if version < 10:
            apply_migration_file(conn, file)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
    return conn


def _decisions_table(conn: sqlite3.Connection) -> None:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'decisions'").fetchone():
        conn.execute("CREATE TABLE decisions (rt_id TEXT PRIMARY KEY, record TEXT NOT NULL, created_at TEXT)")


def _add_decision(conn: sqlite3.Connection, rt_id: str, record: object, created_at: str | None = None) -> None:
    """A decision row, in whichever decisions table the database has (migration 006's or a bare one)."""
    text = record if isinstance(record, str) else json.dumps(record)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(decisions)")]
    if "outcome" in columns:
        conn.execute("INSERT INTO decisions (rt_id, record, outcome, confidence, synthesized, partial, stop_reason,"
                     " created_at) VALUES (?, ?, 'consensus', 1, 1, 0, 'converged', ?)",
                     (rt_id, text, created_at or "2026-10-01T00:00:00Z"))
    else:
        conn.execute("INSERT INTO decisions VALUES (?, ?, ?)", (rt_id, text, created_at))


def test_the_builder_uses_sqlite_utils(tmp_path: Path) -> None:
    assert search_schema.sqlite_utils is sys.modules["sqlite_utils"]
    conn = chatdb.open_db(tmp_path / "fts.db")
    db = index.utils_db(conn)
    assert isinstance(db, sys.modules["sqlite_utils"].Database)
    assert db["search_docs"].detect_fts() == "search_docs_fts"        # made by enable_fts
    triggers = {t.name for t in db["search_docs"].triggers}
    assert {"search_docs_ai", "search_docs_ad", "search_docs_au"} <= triggers
    assert conn.execute("PRAGMA recursive_triggers").fetchone()[0] == 0   # our connection is left as it was


def test_an_existing_database_is_backfilled_once_with_progress(tmp_path: Path, monkeypatch) -> None:
    conn = _old_database(tmp_path / "old.db")
    rt = open_roundtable(conn, "adopt Kafka for events?", ["elena"])
    post(conn, rt, "runner", "BRIEFING:\n\nWe publish order events to three consumers.", kind="briefing")
    for i in range(30):
        post(conn, rt, "elena", f"message {i} about partitions", kind="speech", round=1, phase="SPEAK")
    post(conn, rt, "runner", "YOUR TURN: elena — SPEAK kafka", kind="turn")
    monkeypatch.setattr(search_schema, "BATCH", 7)
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(search_schema, "LARGE", 5)
    monkeypatch.setattr(search_schema, "stderr_progress", lambda done, total: seen.append((done, total)))
    applied = chatdb.migrate(conn, tmp_path / "old.db")
    assert 10 in applied
    kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM search_docs GROUP BY kind").fetchall())
    assert kinds == {"topic": 1, "message": 30}          # the turn prompt is not indexed
    assert seen and seen[-1] == (31, 31) and len(seen) >= 4   # batches of 7 reported as they go
    topic = conn.execute("SELECT text FROM search_docs WHERE kind = 'topic'").fetchone()[0]
    assert "three consumers" in topic
    assert chatdb.migrate(conn, tmp_path / "old.db") == []      # once


def test_triggers_keep_the_index_current(tmp_path: Path) -> None:
    conn = _old_database(tmp_path / "t.db")
    _decisions_table(conn)
    chatdb.migrate(conn, tmp_path / "t.db")
    rt = open_roundtable(conn, "split the billing monolith?", ["marcus"])
    post(conn, rt, "runner", "BRIEFING:\n\nInvoices are generated nightly.", kind="briefing")
    mid = post(conn, rt, "marcus", "A strangler fig around invoicing first.", kind="speech", round=1, phase="SPEAK")
    assert [h.message_id for h in query.search(conn, "strangler")] == [mid]
    assert query.search(conn, "nightly")[0].kind == "topic"
    conn.execute("UPDATE messages SET content = 'Carve out payments first.' WHERE id = ?", (mid,))
    assert query.search(conn, "strangler") == [] and query.search(conn, "payments")[0].message_id == mid
    record = {"recommendation": "Split invoicing out first", "rationale": "lowest coupling",
              "arguments": [{"claim": "invoicing has its own tables", "side": "for", "by": "marcus", "cites": [mid]}],
              "dissent": [{"agent": "clare", "position": "keep the monolith until Q3", "cites": [mid]}]}
    _add_decision(conn, rt, record, "2026-11-28T00:00:00Z")
    hit = query.search(conn, "coupling", kind="decision")[0]
    assert (hit.rt_id, hit.title) == (rt, "Split invoicing out first")
    assert query.search(conn, "Q3", kind="decision")[0].rt_id == rt     # dissent is indexed
    conn.execute("PRAGMA foreign_keys = OFF")
    _add_decision(conn, "x", "not json")              # a broken record never blocks a write
    conn.execute("DELETE FROM messages WHERE id = ?", (mid,))
    assert query.search(conn, "payments") == []


def test_bad_queries_are_one_clear_error(tmp_path: Path) -> None:
    conn = chatdb.open_db(tmp_path / "q.db")
    with pytest.raises(query.SearchSyntaxError, match="not a valid search query") as info:
        query.search(conn, "AND OR")
    assert "\n" not in str(info.value)
    for bad in ('"unbalanced', "col:umn", "NEAR(("):
        with pytest.raises(query.SearchSyntaxError):
            query.search(conn, bad)
    with pytest.raises(query.SearchError, match="empty"):
        query.search(conn, "  ")
    with pytest.raises(query.SearchError, match="--kind"):
        query.search(conn, "x", kind="secret")


def test_precedent_query_quotes_every_word() -> None:
    q = precedent_query('replace Kafka with NATS? OR "drop"', "NOT a NEAR briefing about kafka streams")
    assert q.startswith('"replace" OR "kafka" OR "nats" OR "drop"')
    assert '"streams"' in q and " AND " not in q
    assert precedent_query("?? !!", "") is None


def test_precedents_come_from_decisions_only(tmp_path: Path) -> None:
    conn = _old_database(tmp_path / "p.db")
    _decisions_table(conn)
    chatdb.migrate(conn, tmp_path / "p.db")
    old = open_roundtable(conn, "adopt Kafka for events?", ["elena"])
    chatter = open_roundtable(conn, "kafka kafka kafka?", ["elena"])   # a topic match, but no decision
    post(conn, chatter, "elena", "kafka everywhere", kind="speech")
    _add_decision(conn, old, {"recommendation": "Adopt Kafka for order events", "rationale": "replay"})
    new = open_roundtable(conn, "replace Kafka with NATS?", ["elena"])
    found = find_precedents(conn, "replace Kafka with NATS?", "", exclude_rt=new)
    assert [p.rt_id for p in found] == [old]
    assert found[0].recommendation == "Adopt Kafka for order events"
    assert find_precedents(conn, "replace Kafka with NATS?", "", exclude_rt=new, limit=0) == []


def test_the_block_has_the_heading_ids_and_dates_and_stays_in_its_cap() -> None:
    precedents = [Precedent(rt_id=f"rt{i}", recommendation="Adopt Kafka " + "x" * 300, date="2026-10-01",
                            topic="adopt Kafka?") for i in range(10)]
    block = precedents_block(precedents, cap_chars=900)
    assert block.startswith(HEADING) and "rt rt0, 2026-10-01" in block
    assert len(block) <= 900
    assert precedents_block([]) == ""


def test_stance_says_agreed_or_overturned() -> None:
    old = Precedent(rt_id="a", recommendation="Adopt Kafka for order events", date="", topic="")
    assert stance("Keep using Kafka for order events", old) == "agreed"
    assert stance("Replace Kafka with NATS for order events", old) == "overturned"
    assert stance("Hire two platform engineers", old) == "unrelated"
    listed = annotate({"recommendation": "Replace Kafka with NATS",
                       "precedents": [{"rt_id": "a", "stance": "agreed"}]}, [old])
    assert listed == [{"rt_id": "a", "recommendation": old.recommendation, "date": "", "stance": "agreed",
                       "stance_by": "chair"}]  # the chair's stated stance wins over the heuristic (overturned)
    inferred = annotate({"recommendation": "Replace Kafka with NATS", "precedents": [{"rt_id": "a", "stance": "?"}]},
                        [old])
    assert inferred[0]["stance"] == "overturned" and inferred[0]["stance_by"] == "heuristic"



def test_an_index_older_than_the_decisions_table_is_repaired(tmp_path: Path) -> None:
    conn = _old_database(tmp_path / "late.db")
    chatdb.migrate(conn, tmp_path / "late.db")            # 010 without a decisions table
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'decisions'").fetchone():
        conn.execute("DROP TABLE decisions")
        conn.execute("DROP TRIGGER IF EXISTS search_feed_decision_ai")
    rt = open_roundtable(conn, "adopt Kafka?", ["elena"])
    _decisions_table(conn)
    _add_decision(conn, rt, {"recommendation": "Adopt Kafka"})
    assert index.ensure_decision_feed(conn) is True
    assert index.ensure_decision_feed(conn) is False
    assert query.search(conn, "kafka", kind="decision")[0].rt_id == rt
    other = open_roundtable(conn, "adopt NATS?", ["elena"])
    _add_decision(conn, other, {"recommendation": "Adopt NATS"})
    assert query.search(conn, "nats", kind="decision")[0].rt_id == other


def test_precedents_have_their_own_section_and_never_push_the_briefing_out() -> None:
    from amatelier.debate.context import CAPS, TurnContext, build_prompt, max_prompt_chars

    briefing = "B" * CAPS["briefing"]                     # a briefing at its full cap
    ctx = TurnContext(agent="elena", round=1, phase="SPEAK", topic="replace Kafka?", participants=["elena"],
                      briefing=briefing, messages=[{"id": 1, "agent": "runner", "kind": "precedents",
                                                    "content": "hidden from the transcript"}],
                      precedents=HEADING + "\n" + "- rt a1, 2026-10-01: x\n" * 400)
    prompt = build_prompt(ctx)
    assert briefing in prompt                               # the whole briefing is kept
    section = prompt.split("=== EARLIER DECISIONS OF THIS TEAM ON RELATED QUESTIONS ===\n", 1)[1]
    assert section.startswith(HEADING)
    assert len(section.split("\n=== ", 1)[0]) <= CAPS["precedents"] + 40  # capped on its own
    assert "hidden from the transcript" not in prompt.split("=== RECENT TRANSCRIPT ===")[1]
    assert len(prompt) <= max_prompt_chars(ctx)
    plain = build_prompt(TurnContext(agent="elena", round=1, phase="SPEAK", topic="t", participants=["elena"],
                                     briefing="b", messages=[]))
    assert "EARLIER DECISIONS" not in plain


def test_a_resumed_roundtable_reads_back_the_precedents_it_was_given(tmp_path: Path) -> None:
    from amatelier.search.precedents import given_precedents

    conn = chatdb.open_db(tmp_path / "r.db")
    rt = open_roundtable(conn, "replace Kafka with NATS?", ["elena"])
    given = [Precedent(rt_id="0e1d44c4", recommendation="Adopt Kafka for order events", date="2026-10-01",
                       topic="adopt Kafka for events?"),
             Precedent(rt_id="1f05a2b6", recommendation="Keep: the \"monolith\" stays -> for now", date="2026-10-02",
                       topic="split it?")]
    post(conn, rt, "runner", precedents_block(given), kind="precedents")
    assert given_precedents(conn, rt) == given
    assert given_precedents(conn, "nothing") == []


def test_without_fts5_everything_but_search_keeps_working(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(search_schema, "has_fts5", lambda conn: False)
    conn = chatdb.open_db(tmp_path / "nofts.db")
    rt = open_roundtable(conn, "adopt Kafka?", ["elena"])
    post(conn, rt, "elena", "kafka all the way", kind="speech")        # writes are not blocked
    with pytest.raises(query.SearchError, match="no FTS5"):
        query.search(conn, "kafka")
    monkeypatch.undo()
    assert search_schema.has_fts5(sqlite3.connect(":memory:"))           # this build has it


def test_benchmark_runs_are_never_precedents(tmp_path: Path) -> None:
    conn = chatdb.open_db(tmp_path / "b.db")
    _decisions_table(conn)
    conn.execute("DROP TRIGGER IF EXISTS search_feed_decision_ai")
    index.ensure_decision_feed(conn)
    real = open_roundtable(conn, "adopt Kafka for events?", ["elena"])
    bench_rt = open_roundtable(conn, "adopt Kafka for events?", ["elena"])
    conn.execute("UPDATE roundtables SET batch_id = 'b1' WHERE id = ?", (bench_rt,))
    for rt in (real, bench_rt):
        _add_decision(conn, rt, {"recommendation": "Adopt Kafka"})
    assert {h.rt_id for h in query.search(conn, "kafka", kind="decision")} == {real, bench_rt}
    assert [p.rt_id for p in find_precedents(conn, "replace Kafka?", "")] == [real]
