"""Migration 005 rebuilds spark_ledger from migration 003's one definition, rows and guards intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.helpers.old_databases import apply_migration_file

from amatelier.chat import db as chatdb

GUARDS = {"spark_ledger_agent", "spark_ledger_rt", "spark_ledger_once",
          "spark_ledger_no_update", "spark_ledger_no_delete", "spark_ledger_no_replace"}


def _migration_005():
    return chatdb.migration_module(next(p for v, _, p in chatdb.available_migrations() if v == 5))


def _database_before_005(path: Path) -> sqlite3.Connection:
    conn = chatdb.connect(path)
    chatdb.applied_versions(conn)
    for version, name, file in chatdb.available_migrations():
        if version < 5:
            apply_migration_file(conn, file)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
    return conn


def test_rows_keep_their_ids_and_the_ledger_stays_append_only(tmp_path: Path) -> None:
    conn = _database_before_005(tmp_path / "old.db")
    for row_id, agent, amount in ((3, "elena", -5), (7, "marcus", 12)):
        conn.execute("INSERT INTO spark_ledger (id, agent, amount, category, ref, created_at)"
                     " VALUES (?, ?, ?, 'fee', 'rt1', 'then')", (row_id, agent, amount))
    with pytest.raises(sqlite3.IntegrityError):  # before 005 there is no grant
        conn.execute("INSERT INTO spark_ledger (agent, amount, category, created_at) VALUES ('x', 1, 'grant', 'now')")
    assert 5 in chatdb.migrate(conn, tmp_path / "old.db")
    assert [tuple(r) for r in conn.execute("SELECT id, agent, amount FROM spark_ledger ORDER BY id")] == [
        (3, "elena", -5), (7, "marcus", 12)]
    conn.execute("INSERT INTO spark_ledger (agent, amount, category, ref, created_at)"
                 " VALUES ('elena', 20, 'grant', 'starter', 'now')")
    for statement in ("UPDATE spark_ledger SET amount = 0 WHERE id = 3", "DELETE FROM spark_ledger WHERE id = 7",
                      "INSERT OR REPLACE INTO spark_ledger (id, agent, amount, category, created_at)"
                      " VALUES (3, 'elena', 99, 'fee', 'now')",
                      "INSERT INTO spark_ledger (agent, amount, category, ref, created_at)"
                      " VALUES ('elena', 20, 'grant', 'starter', 'again')"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only|UNIQUE"):
            conn.execute(statement)
    assert conn.execute("SELECT SUM(amount) FROM spark_ledger").fetchone()[0] == 27


def test_the_rebuilt_guards_are_003s_text(tmp_path: Path) -> None:
    conn = chatdb.connect(tmp_path / "new.db")
    chatdb.migrate(conn, tmp_path / "new.db")
    stored = {name: sql for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'spark_ledger' AND type IN ('index', 'trigger')"
        " AND sql IS NOT NULL")}
    assert set(stored) == GUARDS
    _, guards = _migration_005().ledger_statements()
    assert sorted(stored.values()) == sorted(guards)
    table_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'spark_ledger'").fetchone()[0]
    assert "'grant'" in table_sql and "spark_ledger_new" not in table_sql


def test_a_003_without_its_guards_stops_the_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _migration_005()
    text = module.LEDGER_SQL.read_text(encoding="utf-8")
    cut = tmp_path / "003_spark_ledger.sql"
    cut.write_text(text.split("CREATE TRIGGER spark_ledger_no_delete")[0], encoding="utf-8")
    monkeypatch.setattr(module, "LEDGER_SQL", cut)
    with pytest.raises(RuntimeError, match="no longer defines spark_ledger"):
        module.ledger_statements()


def test_statements_split_at_top_level_semicolons_only() -> None:
    script = ("-- a comment; with a semicolon\nCREATE TABLE t (a INT); -- trailing\n"
              "CREATE TRIGGER g BEFORE DELETE ON t\nBEGIN\n    SELECT 1;\nEND;\n")
    assert _migration_005().sql_statements(script) == [
        "CREATE TABLE t (a INT)", "CREATE TRIGGER g BEFORE DELETE ON t\nBEGIN\n    SELECT 1;\nEND"]
