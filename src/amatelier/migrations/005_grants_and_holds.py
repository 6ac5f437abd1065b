"""Migration 005: the starter grant, and what provider calls cost in retries and holds.

spark_ledger gains the category 'grant' (a once-per-agent starter grant, see
docs/reference/economy.md). SQLite cannot alter a CHECK constraint, so the table is rebuilt:
every row is copied with its id, then its indexes and append-only triggers are created again.
Python rather than SQL so that the table, its indexes and its triggers have one definition,
migration 003's: they are read from 003_spark_ledger.sql, so the rebuilt table is guarded
exactly as 003 guarded it (a database migrated by the earlier all-SQL 005 has the same schema).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

LEDGER_SQL = Path(__file__).with_name("003_spark_ledger.sql")
OLD_CATEGORIES = "'venture_stake', 'venture_payout', 'bench')"
NEW_CATEGORIES = "'venture_stake', 'venture_payout', 'bench', 'grant')"

AFTER_LEDGER = [
    # Every provider call records how often it was retried and how long it waited, so a
    # successful retry is visible in the digest (llm_usage.retries, llm_usage.retry_wait_s).
    "ALTER TABLE llm_calls ADD COLUMN retries INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE llm_calls ADD COLUMN retry_wait_s REAL NOT NULL DEFAULT 0",
    # LLMCallError.kind of a failed call; 'held' = skipped
    "ALTER TABLE llm_calls ADD COLUMN error_kind TEXT",
    # A backend+model a provider asked an agent to leave alone (retry-after beyond the cap,
    # or repeated 429/5xx): that agent's calls to it are skipped without a request until
    # `until` passes. Scoped to one roundtable; the digest lists these as
    # engine.events of kind 'breaker'.
    "CREATE TABLE llm_holds (\n"
    "    id         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    rt_id      TEXT,\n"
    "    agent      TEXT,\n"
    "    backend    TEXT NOT NULL,\n"
    "    model      TEXT NOT NULL,\n"
    "    until      REAL NOT NULL,               -- epoch seconds\n"
    "    reason     TEXT NOT NULL,\n"
    "    created_at TEXT NOT NULL\n"
    ")",
    "CREATE INDEX llm_holds_key ON llm_holds(rt_id, agent, backend, model, until)",
]


def sql_statements(script: str) -> list[str]:
    """The statements of an SQL script, each without its `--` comments or trailing blanks."""
    statements: list[str] = []
    lines: list[str] = []
    for raw in script.splitlines():
        line = re.sub(r"\s*--.*$", "", raw).rstrip()  # 003 has no `--` inside a string literal
        if not line and not lines:
            continue
        lines.append(line)
        text = "\n".join(lines)
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text.removesuffix(";"))
            lines = []
    return statements


def ledger_statements() -> tuple[str, list[str]]:
    """(003's CREATE TABLE spark_ledger, 003's indexes and triggers on spark_ledger), as written there."""
    table = ""
    guards: list[str] = []
    for statement in sql_statements(LEDGER_SQL.read_text(encoding="utf-8")):
        head = statement.split("(", 1)[0].split()
        if head[:3] == ["CREATE", "TABLE", "spark_ledger"]:
            table = statement
        elif head[:1] == ["CREATE"] and re.search(r"\bON spark_ledger\b", statement.split("\n", 1)[0]):
            guards.append(statement)
    if OLD_CATEGORIES not in table or len(guards) != 6:
        raise RuntimeError(f"{LEDGER_SQL.name} no longer defines spark_ledger as migration 005 expects")
    return table, guards


def upgrade(conn: sqlite3.Connection) -> None:
    table, guards = ledger_statements()
    conn.execute(table.replace("CREATE TABLE spark_ledger", "CREATE TABLE spark_ledger_new", 1)
                 .replace(OLD_CATEGORIES, NEW_CATEGORIES, 1))
    conn.execute("INSERT INTO spark_ledger_new (id, agent, rt_id, amount, category, reason, ref, meta, created_at)"
                 " SELECT id, agent, rt_id, amount, category, reason, ref, meta, created_at"
                 " FROM spark_ledger ORDER BY id")
    conn.execute("DROP TABLE spark_ledger")
    conn.execute("ALTER TABLE spark_ledger_new RENAME TO spark_ledger")
    for statement in guards + AFTER_LEDGER:
        conn.execute(statement)
