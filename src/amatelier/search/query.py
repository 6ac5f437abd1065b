"""Searching the index: ranked hits with the roundtable, date, speaker and a highlighted snippet.

Ranking is FTS5's bm25 (speaker and text weigh most), scaled by kind so that where a
thing was decided or argued outranks the bare topic line: decision x2, message x1,
topic x0.6. A query that is not valid FTS5 syntax raises SearchSyntaxError with one line.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from amatelier.search.index import DOCS, FTS, index_exists

KINDS = ("message", "decision", "topic")
KIND_WEIGHT = {"decision": 2.0, "message": 1.0, "topic": 0.6}
HIGHLIGHT = ("**", "**")
SNIPPET_TOKENS = 16
MAX_LIMIT = 200
MAX_QUERY_CHARS = 2000  # FTS5 cost grows with the square of the terms: 24 KB of `a* OR` took a minute


class SearchError(ValueError):
    """A search that cannot run as asked (one line, for the user)."""


class SearchSyntaxError(SearchError):
    """The query is not valid FTS5 syntax."""


@dataclass
class Hit:
    """One ranked result."""

    rank: int
    kind: str
    rt_id: str
    date: str
    speaker: str | None
    round: int | None
    phase: str | None
    message_id: int | None
    topic: str | None
    title: str | None
    snippet: str
    score: float
    open_with: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weight_sql() -> str:
    cases = " ".join(f"WHEN '{k}' THEN {w}" for k, w in KIND_WEIGHT.items())
    return f"(CASE d.kind {cases} ELSE 1.0 END)"


def search(conn: sqlite3.Connection, query: str, *, rt_id: str | None = None, agent: str | None = None,
           kind: str | None = None, limit: int = 20, real_only: bool = False) -> list[Hit]:
    """Ranked hits for an FTS5 query, best first, optionally within one roundtable, speaker or kind.

    `real_only` leaves out benchmark runs (roundtables with a batch_id), e.g. for precedents.
    """
    query = (query or "").strip()
    if not query:
        raise SearchError("the search query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(f"the search query is {len(query):,} characters; at most {MAX_QUERY_CHARS:,}")
    if kind is not None and kind not in KINDS:
        raise SearchError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise SearchError(f"--limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if not index_exists(conn):
        raise SearchError("search is unavailable: this Python's SQLite has no FTS5 full-text module"
                          if conn.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{DOCS}'").fetchone()
                          else "this database has no search index yet (run any amatelier command to migrate it)")
    where, params = [f"{FTS} MATCH ?"], [query]
    for column, value in (("d.rt_id", rt_id), ("d.speaker", agent.lower() if agent else None), ("d.kind", kind)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if real_only:
        where.append("r.batch_id IS NULL")
    sql = (f"SELECT d.kind, d.rt_id, d.speaker, d.round, d.phase, d.source_id, d.title, d.created_at,"
           f" r.topic, r.created_at AS rt_created,"
           f" snippet({FTS}, 3, ?, ?, '…', {SNIPPET_TOKENS}) AS snip,"
           f" bm25({FTS}, 2.0, 0.5, 0.5, 1.0) * {_weight_sql()} AS score"
           f" FROM {FTS} JOIN {DOCS} d ON d.id = {FTS}.rowid LEFT JOIN roundtables r ON r.id = d.rt_id"
           f" WHERE {' AND '.join(where)} ORDER BY score, d.id LIMIT ?")
    try:
        rows = conn.execute(sql, [*HIGHLIGHT, *params, int(limit)]).fetchall()
    except sqlite3.OperationalError as exc:
        raise SearchSyntaxError(syntax_message(query, str(exc))) from None
    return [Hit(rank=i, kind=row[0], rt_id=row[1], date=(row[9] or row[7] or "")[:10], speaker=row[2],
                round=row[3], phase=row[4], message_id=row[5] if row[0] == "message" else None,
                topic=row[8], title=row[6], snippet=" ".join(str(row[10] or "").split()),
                score=round(-float(row[11]), 4), open_with=f"amatelier export {row[1]}")
            for i, row in enumerate(rows, start=1)]


def syntax_message(query: str, error: str) -> str:
    """One line saying the query is not valid FTS5, and how to search words literally."""
    error = re.sub(r"\s+", " ", error).strip()
    return (f"not a valid search query {query[:80]!r} ({error}); put words in double quotes to search "
            "them literally, e.g. '\"and\" \"or\"'")


def fts_terms_query(words: list[str]) -> str | None:
    """An OR query over literal words (each quoted, so no word is read as FTS syntax)."""
    quoted = ['"' + w[:60].replace('"', '""') + '"' for w in words if w]  # 24 words stay under the cap
    return " OR ".join(quoted) if quoted else None


def search_payload(conn: sqlite3.Connection, query: str, *, rt_id: str | None = None, agent: str | None = None,
                   kind: str | None = None, limit: int = 10) -> dict[str, Any]:
    """What `amatelier search --json` prints and the MCP `roundtable_search` tool returns."""
    hits = search(conn, query, rt_id=rt_id, agent=agent, kind=kind, limit=limit)
    return {"query": query, "count": len(hits), "results": [h.to_dict() for h in hits]}
