"""The search index's schema and backfill (migration 010), built with sqlite-utils.

Lives beside the migrations so the migration that builds it imports nothing above the
bottom layer; `amatelier.search.index` re-exports it for the search code. The index
covers every roundtable: messages, decision records, topics and briefings.

Built with sqlite-utils (the declared dependency) on the same SQLite file:

* `search_docs` is a plain table with one row per searchable thing: `kind` is
  `message` (a speech, judge or steward message), `decision` (a roundtable's decision
  record: recommendation, rationale, arguments, dissent) or `topic` (the topic plus the
  briefing). SQL triggers on `messages`, `roundtables` and `decisions` keep it current.
* `search_docs_fts` is the FTS5 index over (speaker, round, phase, text), created by
  sqlite-utils' `enable_fts(..., create_triggers=True)`, whose triggers keep it in step
  with `search_docs`.

Migration 010 calls `create_index`; an existing database is backfilled once, in batches,
with progress reported for large ones.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable

import sqlite_utils

DOCS = "search_docs"
FTS = f"{DOCS}_fts"
FTS_COLUMNS = ("speaker", "round", "phase", "text")
TOKENIZER = "porter unicode61"
# Message kinds worth finding again; turn prompts, phase banners and runner notes are noise.
MESSAGE_KINDS = ("speech", "judge", "steward", "chat", "human")
BATCH = 2000
LARGE = 20000   # rows; above this the one-time backfill reports progress

Progress = Callable[[int, int], None]

_KINDS_SQL = ", ".join(f"'{k}'" for k in MESSAGE_KINDS)
_FEED_TRIGGERS = f"""
CREATE TRIGGER search_feed_message_ai AFTER INSERT ON messages WHEN new.kind IN ({_KINDS_SQL}) BEGIN
  INSERT INTO {DOCS} (kind, rt_id, source_id, speaker, round, phase, title, text, created_at)
  VALUES ('message', new.rt_id, new.id, new.agent, new.round, new.phase, NULL, new.content, new.created_at);
END;
CREATE TRIGGER search_feed_message_au AFTER UPDATE OF content ON messages BEGIN
  UPDATE {DOCS} SET text = new.content WHERE kind = 'message' AND source_id = new.id;
END;
CREATE TRIGGER search_feed_message_ad AFTER DELETE ON messages BEGIN
  DELETE FROM {DOCS} WHERE kind = 'message' AND source_id = old.id;
END;
CREATE TRIGGER search_feed_briefing_ai AFTER INSERT ON messages WHEN new.kind = 'briefing' BEGIN
  UPDATE {DOCS} SET text = text || char(10) || char(10) || new.content
  WHERE kind = 'topic' AND rt_id = new.rt_id;
END;
CREATE TRIGGER search_feed_topic_ai AFTER INSERT ON roundtables BEGIN
  INSERT INTO {DOCS} (kind, rt_id, source_id, speaker, round, phase, title, text, created_at)
  VALUES ('topic', new.id, NULL, 'topic', NULL, NULL, new.topic, new.topic, new.created_at);
END;
CREATE TRIGGER search_feed_topic_ad AFTER DELETE ON roundtables BEGIN
  DELETE FROM {DOCS} WHERE rt_id = old.id;
END;
"""

# The decision record's searchable text: recommendation, rationale, argument claims, dissent.
DECISION_TEXT = """trim(
  coalesce(json_extract({rec}, '$.recommendation'), '') || char(10) ||
  coalesce(json_extract({rec}, '$.rationale'), '') || char(10) ||
  coalesce((SELECT group_concat(coalesce(json_extract(a.value, '$.claim'), ''), char(10))
            FROM json_each({rec}, '$.arguments') AS a), '') || char(10) ||
  coalesce((SELECT group_concat(coalesce(json_extract(d.value, '$.agent'), '') || ': ' ||
                                coalesce(json_extract(d.value, '$.position'), ''), char(10))
            FROM json_each({rec}, '$.dissent') AS d), ''))"""
# Column names the decision table may use for the record JSON, the RT id and the time.
RECORD_COLUMNS = ("record", "decision", "record_json", "decision_json", "json", "data")


def utils_db(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """A sqlite-utils view of our connection (no plugins, no connection-wide pragmas)."""
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def decision_columns(conn: sqlite3.Connection) -> tuple[str, str, str | None] | None:
    """(record JSON column, rt id column, time column) of the `decisions` table, or None."""
    columns = [row[1] for row in conn.execute("PRAGMA table_info(decisions)")]
    if not columns:
        return None
    record = next((c for c in RECORD_COLUMNS if c in columns), None)
    rt = "rt_id" if "rt_id" in columns else None
    if record is None or rt is None:
        return None
    when = next((c for c in ("created_at", "updated_at") if c in columns), None)
    return record, rt, when


def decision_insert_sql(row: str, rec: str, rt: str, when: str | None) -> str:
    """INSERT ... SELECT of one decision doc from `row` (`new` in a trigger, the table in a backfill)."""
    now = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
    stamp = f"coalesce({row}.{when}, {now})" if when else now
    text = DECISION_TEXT.format(rec=f"{row}.{rec}")
    return (f"INSERT INTO {DOCS} (kind, rt_id, source_id, speaker, round, phase, title, text, created_at)"
            f" SELECT 'decision', {row}.{rt}, NULL, 'decision', NULL, NULL,"
            f" json_extract({row}.{rec}, '$.recommendation'), {text}, {stamp}")


def decision_triggers_sql(rec: str, rt: str, when: str | None) -> str:
    """Triggers that keep one `decision` doc per roundtable in step with the decisions table."""
    insert = decision_insert_sql("new", rec, rt, when)
    valid = f"json_valid(new.{rec})"
    return f"""
CREATE TRIGGER IF NOT EXISTS search_feed_decision_ai AFTER INSERT ON decisions WHEN {valid} BEGIN
  DELETE FROM {DOCS} WHERE kind = 'decision' AND rt_id = new.{rt};
  {insert};
END;
CREATE TRIGGER IF NOT EXISTS search_feed_decision_au AFTER UPDATE ON decisions WHEN {valid} BEGIN
  DELETE FROM {DOCS} WHERE kind = 'decision' AND rt_id IN (old.{rt}, new.{rt});
  {insert};
END;
CREATE TRIGGER IF NOT EXISTS search_feed_decision_ad AFTER DELETE ON decisions BEGIN
  DELETE FROM {DOCS} WHERE kind = 'decision' AND rt_id = old.{rt};
END;
"""


def index_exists(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (FTS,)).fetchone() is not None


def stderr_progress(done: int, total: int) -> None:
    """The default progress line for a large one-time backfill."""
    print(f"\ramatelier: building the search index (one time): {done}/{total} rows",
          end="\n" if done >= total else "", file=sys.stderr, flush=True)


def has_fts5(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite build has the FTS5 module (probed with a throw-away temp table)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.amatelier_fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    conn.execute("DROP TABLE temp.amatelier_fts5_probe")
    return True


def create_index(conn: sqlite3.Connection, progress: Progress | None = None) -> int:
    """Create search_docs, its FTS5 index and every trigger, then backfill; returns rows indexed.

    Runs inside the caller's transaction (the migration's BEGIN IMMEDIATE): sqlite-utils
    executes statement by statement when a transaction is open.
    """
    db = utils_db(conn)
    db[DOCS].create({"id": int, "kind": str, "rt_id": str, "source_id": int, "speaker": str,
                     "round": int, "phase": str, "title": str, "text": str, "created_at": str},
                    pk="id", not_null={"kind", "rt_id", "text", "created_at"})
    db[DOCS].create_index(["kind", "rt_id"], index_name="search_docs_kind_rt")
    db[DOCS].create_index(["source_id"], index_name="search_docs_source")
    if has_fts5(conn):   # a SQLite built without FTS5 keeps working; only search says it is unavailable
        db[DOCS].enable_fts(list(FTS_COLUMNS), fts_version="FTS5", create_triggers=True, tokenize=TOKENIZER)
    total = backfill(conn, progress)
    db.executescript(_FEED_TRIGGERS)
    columns = decision_columns(conn)
    if columns is not None:
        db.executescript(decision_triggers_sql(*columns))
    return total


def _pending(conn: sqlite3.Connection) -> int:
    count = conn.execute(f"SELECT COUNT(*) FROM messages WHERE kind IN ({_KINDS_SQL})").fetchone()[0]
    count += conn.execute("SELECT COUNT(*) FROM roundtables").fetchone()[0]
    if decision_columns(conn) is not None:
        count += conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    return int(count)


def backfill(conn: sqlite3.Connection, progress: Progress | None = None) -> int:
    """Index what the database already holds (topics, briefings, messages, decisions), in batches."""
    total = _pending(conn)
    if progress is None and total > LARGE:
        progress = stderr_progress
    done = reported = 0
    conn.execute(
        f"INSERT INTO {DOCS} (kind, rt_id, source_id, speaker, round, phase, title, text, created_at)"
        " SELECT 'topic', r.id, NULL, 'topic', NULL, NULL, r.topic,"
        "  r.topic || coalesce((SELECT group_concat(char(10) || char(10) || m.content, '') FROM messages m"
        "                      WHERE m.rt_id = r.id AND m.kind = 'briefing'), ''), r.created_at"
        " FROM roundtables r ORDER BY r.created_at")
    done += conn.execute("SELECT COUNT(*) FROM roundtables").fetchone()[0]
    last = 0
    while True:
        rows = conn.execute(f"SELECT id FROM messages WHERE kind IN ({_KINDS_SQL}) AND id > ?"
                            " ORDER BY id LIMIT ?", (last, BATCH)).fetchall()
        if not rows:
            break
        upto = rows[-1][0]
        conn.execute(
            f"INSERT INTO {DOCS} (kind, rt_id, source_id, speaker, round, phase, title, text, created_at)"
            " SELECT 'message', rt_id, id, agent, round, phase, NULL, content, created_at FROM messages"
            f" WHERE kind IN ({_KINDS_SQL}) AND id > ? AND id <= ? ORDER BY id", (last, upto))
        done += len(rows)
        last = upto
        if progress is not None:
            reported = min(done, total)
            progress(reported, total)
    columns = decision_columns(conn)
    if columns is not None:
        rec, rt, when = columns
        conn.execute(decision_insert_sql("decisions", rec, rt, when) + f" FROM decisions WHERE json_valid(decisions.{rec})")
    if progress is not None and reported < total:
        progress(total, total)
    return conn.execute(f"SELECT COUNT(*) FROM {DOCS}").fetchone()[0]
