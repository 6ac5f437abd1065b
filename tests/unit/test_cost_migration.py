"""Migration 007 brings calls recorded before it to the one meaning of input_tokens."""

from __future__ import annotations

import sqlite3

from tests.helpers.old_databases import apply_migration_file

from amatelier import paths
from amatelier.chat.db import available_migrations


def test_old_anthropic_rows_count_cached_input_and_get_their_uncached_part() -> None:
    conn = sqlite3.connect(":memory:")
    before = [m for m in available_migrations(paths.bundled_migrations_dir()) if m[0] < 7]
    for _, _, path in before:
        apply_migration_file(conn, path)
    rows = [("anthropic-sdk", 300, 5000, 700), ("claude-code", 42, 900, 0), ("openai-compat", 6000, 5120, 0)]
    for backend, tokens, read, write in rows:
        conn.execute("INSERT INTO llm_calls (backend, model, input_tokens, cache_read_tokens,"
                     " cache_write_tokens, created_at) VALUES (?, 'm', ?, ?, ?, 'now')",
                     (backend, tokens, read, write))
    (seven,) = [m for m in available_migrations(paths.bundled_migrations_dir()) if m[0] == 7]
    conn.executescript(seven[2].read_text(encoding="utf-8"))
    got = conn.execute("SELECT backend, input_tokens, uncached_input_tokens, prompt_chars FROM llm_calls"
                       " ORDER BY id").fetchall()
    assert got == [("anthropic-sdk", 6000, 300, None), ("claude-code", 942, 42, None),
                   ("openai-compat", 6000, 880, None)]  # OpenAI already counted cached input
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"rt_ceilings", "llm_reservations"} <= tables
