"""`amatelier reliability` over a seeded workspace: every number, the window, the errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import rt_env, run_cli

from amatelier.judging import reliability


def seed(workspace: Path) -> None:
    """Three roundtables with calls (ok, error, abandoned, retried), judging rows, scores, a hedge."""
    import os

    os.environ["AMATELIER_WORKSPACE"] = str(workspace)
    from amatelier.chat.db import open_db

    conn = open_db()
    try:
        for n, (alpha, flip) in enumerate([(0.5, None), (0.7, 0.1), (None, 0.0)], start=1):
            rt = f"rt{n}"
            stamp = f"2026-01-0{n}T00:00:00Z"
            conn.execute("INSERT INTO roundtables (id, topic, created_at, status) VALUES (?, 't', ?, 'closed')",
                         (rt, stamp))
            for i in range(10):
                conn.execute("INSERT INTO llm_calls (rt_id, agent, role, backend, model, latency_ms, status,"
                             " created_at) VALUES (?, 'elena', 'speak', 'offline', 'offline-sonnet', ?, 'ok', ?)",
                             (rt, 100.0 * (i + 1), stamp))
            conn.execute("INSERT INTO llm_calls (rt_id, agent, role, backend, model, latency_ms, status, error,"
                         " created_at) VALUES (?, 'naomi', 'speak', 'gemini', 'flash', 5, 'error', 'boom', ?)",
                         (rt, stamp))
            conn.execute("INSERT INTO judging_results (rt_id, seats, alpha, audited, flip_rate, length_score_r,"
                         " recusals, self_family, detail, created_at) VALUES (?, 2, ?, ?, ?, 0.3, 1, 4, '{}', ?)",
                         (rt, alpha, 1 if flip is not None else 0, flip, stamp))
            for agent, words, total in (("elena", 10, 4), ("marcus", 20, 5), ("clare", 30 * n, 6)):
                conn.execute("INSERT INTO messages (rt_id, agent, kind, content, created_at, created_ts)"
                             " VALUES (?, ?, 'speech', ?, ?, 0)", (rt, agent, " ".join(["w"] * words), stamp))
                conn.execute("INSERT INTO scores (rt_id, agent, novelty, accuracy, impact, challenge, total,"
                             " created_at) VALUES (?, ?, 1, 1, 1, ?, ?, ?)", (rt, agent, total - 3, total, stamp))
        conn.execute("INSERT INTO hedged_calls (rt_id, backend, model, hedge_backend, threshold_ms, winner,"
                     " winner_ms, saved_ms, created_at) VALUES ('rt3', 'offline', 'offline-sonnet', 'offline',"
                     " 750, 'hedge', 800, 1200, '2026-01-03T00:00:00Z')")
        conn.execute("INSERT INTO hedged_calls (rt_id, backend, model, hedge_backend, threshold_ms, winner,"
                     " winner_ms, saved_ms, created_at) VALUES ('rt3', 'offline', 'offline-sonnet', 'offline',"
                     " 750, 'primary', 760, 0, '2026-01-03T00:00:00Z')")
    finally:
        conn.close()


def test_report_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = tmp_path / "ws"
    seed(workspace)
    result = run_cli(["reliability", "--json"], rt_env(workspace))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["roundtables"] == 3 and report["since"] is None
    offline = next(c for c in report["calls"] if c["backend"] == "offline")
    assert offline["calls"] == 30 and offline["error_rate"] == 0.0
    assert offline["latency_ms"] == {"p50": 550.0, "p95": 1000.0, "p99": 1000.0}
    gemini = next(c for c in report["calls"] if c["backend"] == "gemini")
    assert gemini["error_rate"] == 1.0 and gemini["latency_ms"]["p50"] is None
    assert "retry_rate" in offline and "breaker_events" in offline
    judging = report["judging"]
    assert [r["rt_id"] for r in judging["roundtables"]] == ["rt1", "rt2", "rt3"]
    assert judging["alpha"] == {"mean": 0.6, "juried": 2}
    assert judging["flip_rate"] == {"mean": 0.05, "audited": 2}
    assert judging["recusals"] == 3 and judging["length_score"]["pairs"] == 9
    assert isinstance(judging["length_score"]["r"], float) and judging["length_score"]["mean_per_roundtable"] == 0.3
    hedges = report["hedges"]
    assert (hedges["hedged"], hedges["hedge_won"], hedges["primary_won"], hedges["win_rate"]) == (2, 1, 1, 0.5)
    assert hedges["saved_ms"] == {"total": 1200.0, "median": 1200.0}

    last = json.loads(run_cli(["reliability", "--since", "1", "--json"], rt_env(workspace)).stdout)
    assert last["since"] == {"roundtables": 1} and last["roundtables"] == 1
    assert [r["rt_id"] for r in last["judging"]["roundtables"]] == ["rt3"]
    assert next(c for c in last["calls"] if c["backend"] == "offline")["calls"] == 10

    table = run_cli(["reliability"], rt_env(workspace, COLUMNS="160"))
    assert table.returncode == 0 and "offline-sonnet" in table.stdout and "rt2" in table.stdout


def test_breaker_events_and_retries_are_read_when_recorded(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    seed(workspace)
    digest_dir = workspace / "roundtable-server"
    (digest_dir / "digest-rt2.json").write_text(json.dumps({"engine": {"events": [
        {"kind": "breaker", "backend": "gemini", "model": "flash"}, {"kind": "restart"}]}}), encoding="utf-8")
    (digest_dir / "digest-rt3.json").write_text("{corrupt", encoding="utf-8")
    conn = sqlite3.connect(workspace / "roundtable-server" / "roundtable.db")
    if "retries" not in {row[1] for row in conn.execute("PRAGMA table_info(llm_calls)")}:  # before migration 005
        conn.execute("ALTER TABLE llm_calls ADD COLUMN retries INTEGER NOT NULL DEFAULT 0")
    conn.execute("DROP TABLE IF EXISTS llm_holds")  # first, a database without the breaker's table
    conn.execute("UPDATE llm_calls SET retries = 2 WHERE id IN (SELECT id FROM llm_calls WHERE backend = 'offline'"
                 " LIMIT 3)")
    conn.commit()
    conn.close()
    report = json.loads(run_cli(["reliability", "--json"], rt_env(workspace)).stdout)
    offline = next(c for c in report["calls"] if c["backend"] == "offline")
    gemini = next(c for c in report["calls"] if c["backend"] == "gemini")
    assert offline["retries"] == 6 and offline["retry_rate"] == 0.1
    assert gemini["breaker_events"] == 1 and report["totals"]["breaker_events"] == 1

    # With the breaker's own table, its trips are counted there and held calls apart from errors.
    conn = sqlite3.connect(workspace / "roundtable-server" / "roundtable.db")
    conn.execute("CREATE TABLE IF NOT EXISTS llm_holds (id INTEGER PRIMARY KEY, rt_id TEXT, agent TEXT, backend TEXT,"
                 " model TEXT, until REAL, reason TEXT, created_at TEXT)")
    conn.executemany("INSERT INTO llm_holds (rt_id, agent, backend, model, until, reason, created_at)"
                     " VALUES (?, 'naomi', 'gemini', 'flash', 0, '429', '')", [("rt1",), ("rt3",)])
    conn.execute("INSERT INTO llm_calls (rt_id, agent, role, backend, model, status, created_at)"
                 " VALUES ('rt3', 'naomi', 'speak', 'gemini', 'flash', 'held', '2026-01-03T00:00:00Z')")
    conn.commit()
    conn.close()
    report = json.loads(run_cli(["reliability", "--json"], rt_env(workspace)).stdout)
    gemini = next(c for c in report["calls"] if c["backend"] == "gemini")
    assert (gemini["breaker_events"], gemini["held"], gemini["errors"]) == (2, 1, 3)
    last = json.loads(run_cli(["reliability", "--since", "1", "--json"], rt_env(workspace)).stdout)
    assert last["totals"]["breaker_events"] == 1 and last["totals"]["held"] == 1


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "0"], ["--since", "-3"]])
def test_bad_since_is_one_line_and_json_on_request(tmp_path: Path, args: list[str]) -> None:
    workspace = tmp_path / "ws"
    seed(workspace)
    plain = run_cli(["reliability", *args], rt_env(workspace))
    assert plain.returncode == 2 and plain.stderr.startswith("amatelier: error: --since")
    assert "Traceback" not in plain.stderr and len(plain.stderr.strip().splitlines()) == 1
    as_json = run_cli(["reliability", *args, "--json"], rt_env(workspace))
    assert as_json.returncode == 2 and json.loads(as_json.stderr)["code"] == 2


def test_no_database_and_a_corrupt_database(tmp_path: Path) -> None:
    missing = run_cli(["reliability", "--json"], rt_env(tmp_path / "empty"))
    assert missing.returncode == 2 and "no roundtable database yet" in json.loads(missing.stderr)["error"]
    workspace = tmp_path / "bad"
    (workspace / "roundtable-server").mkdir(parents=True)
    (workspace / "roundtable-server" / "roundtable.db").write_bytes(b"this is not sqlite" * 100)
    corrupt = run_cli(["reliability"], rt_env(workspace))
    assert corrupt.returncode == 2 and "Traceback" not in corrupt.stderr
    assert corrupt.stderr.startswith("amatelier: error:")


def test_parse_since() -> None:
    assert reliability.parse_since("5") == reliability.Window(roundtables=5)
    assert reliability.parse_since("7d") == reliability.Window(hours=168.0)
    assert reliability.parse_since("12h") == reliability.Window(hours=12.0)
    assert reliability.parse_since(None) == reliability.Window()
