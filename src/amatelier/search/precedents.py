"""Precedents: earlier decisions of this team on related questions, for a roundtable that opens.

When a roundtable opens, its topic and briefing are turned into a literal OR query and
matched against past *decision records* only. The best few (config
`roundtable.precedents`, default 3; `--no-precedents` for none) are shown to the agents
under one heading with ids and dates, inside their own character cap so they never push
the briefing out, and the new decision record lists them with whether it agreed with or
overturned each one.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from amatelier.search.query import SearchError, fts_terms_query, search

HEADING = "Earlier decisions of this team on related questions"
DEFAULT_COUNT = 3
MAX_COUNT = 10
CAP_CHARS = 2000          # the block's own cap inside the prompt (the briefing keeps its own)
TOPIC_TERMS = 12
BRIEFING_TERMS = 12
_STOP_TEXT = """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on
once only or other our ours out over own same she should so some such than that the their them then there
these they this those through to too under until up very was we were what when where which while who whom
why will with would you your yours yes should shall must may might one two use using used new
briefing objective context constraints question decide decision team roundtable
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[a-z][a-z0-9_-]{2,}")
_NEGATION_TEXT = """not no never don't dont do-not avoid reject rejected against stop abandon drop
replace replacing retire remove keep-off defer postpone instead"""
NEGATIONS = frozenset(_NEGATION_TEXT.split())


@dataclass
class Precedent:
    """A past decision shown to a new roundtable."""

    rt_id: str
    recommendation: str
    date: str
    topic: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_words(text: str) -> list[str]:
    """Lower-case words of 3+ letters that carry meaning (pure)."""
    return [w for w in _WORD.findall((text or "").lower()) if w not in STOPWORDS]


def precedent_query(topic: str, briefing: str = "") -> str | None:
    """A literal OR query: every topic word, then the briefing's most frequent words (pure)."""
    topic_words = list(dict.fromkeys(content_words(topic)))[:TOPIC_TERMS]
    counts = Counter(w for w in content_words(briefing) if w not in topic_words)
    briefing_words = [w for w, _ in counts.most_common(BRIEFING_TERMS)]
    return fts_terms_query(topic_words + briefing_words)


def find_precedents(conn: sqlite3.Connection, topic: str, briefing: str = "", *, exclude_rt: str | None = None,
                    limit: int = DEFAULT_COUNT) -> list[Precedent]:
    """The best-matching past decision records (never the roundtable itself); [] when none or no index."""
    limit = max(0, min(int(limit), MAX_COUNT))
    query = precedent_query(topic, briefing)
    if not limit or not query:
        return []
    try:
        hits = search(conn, query, kind="decision", limit=limit + 1, real_only=True)   # no benchmark runs
    except SearchError:
        return []
    found = [Precedent(rt_id=h.rt_id, recommendation=(h.title or "").strip(), date=h.date, topic=h.topic or "")
             for h in hits if h.rt_id != exclude_rt]
    return found[:limit]


def precedents_block(precedents: Sequence[Precedent], cap_chars: int = CAP_CHARS) -> str:
    """The text the agents see: the heading, then one line per precedent with id and date (capped)."""
    if not precedents:
        return ""
    lines = [f"{HEADING} (past roundtables; agree or overturn them, but say which and why):"]
    for p in precedents:
        rec = " ".join(p.recommendation.split()) or "(no recommendation recorded)"
        line = f"- rt {p.rt_id}, {p.date}: \"{p.topic}\" -> {rec}"
        lines.append(line if len(line) <= 400 else line[:399] + "…")
    text = "\n".join(lines)
    while len(text) > cap_chars and len(lines) > 2:
        lines.pop()
        text = "\n".join(lines)
    return text if len(text) <= cap_chars else text[: cap_chars - 1] + "…"


def _polarity(text: str) -> bool:
    words = set(re.findall(r"[a-z'-]+", (text or "").lower()))
    return bool(words & NEGATIONS)


def stance(new_recommendation: str, old: Precedent | Mapping[str, Any]) -> str:
    """`agreed`, `overturned` or `unrelated`: does the new recommendation keep or reverse the old one? (pure)

    A heuristic on the two recommendations: they must share subject words to be compared;
    then the same polarity (both for, or both against) is agreement and opposite polarity
    an overturn. A chair that states its stance explicitly wins over this (see annotate).
    """
    old_rec = old.recommendation if isinstance(old, Precedent) else str(old.get("recommendation", ""))
    shared = set(content_words(new_recommendation)) & set(content_words(old_rec))
    if not shared:
        return "unrelated"
    return "agreed" if _polarity(new_recommendation) == _polarity(old_rec) else "overturned"


STANCES = ("agreed", "overturned", "unrelated")
_STANCE_WORDS = {"agree": "agreed", "agrees": "agreed", "agreed": "agreed", "keep": "agreed", "keeps": "agreed",
                 "upheld": "agreed", "uphold": "agreed", "overturn": "overturned", "overturns": "overturned",
                 "overturned": "overturned", "reverse": "overturned", "reversed": "overturned",
                 "unrelated": "unrelated", "not related": "unrelated", "n/a": "unrelated"}
REASON_CAP = 400


def chair_stance(value: Any) -> str | None:
    """A stance the chair wrote (`Agreed`, `overturns`, ...) as agreed/overturned/unrelated; None if unreadable."""
    if not isinstance(value, str):
        return None
    return _STANCE_WORDS.get(" ".join(value.strip().lower().replace("_", " ").split()).strip(" .!"))


def annotate(decision: Mapping[str, Any], precedents: Sequence[Precedent]) -> list[dict[str, Any]]:
    """The decision record's `precedents` list: {rt_id, recommendation, date, stance, stance_by[, reason]}.

    A stance the chair gave (decision["precedents"][i]["stance"] for the same rt_id, in any
    common wording) is kept with `stance_by: "chair"` and its reason; otherwise the stance is
    inferred by `stance` (`stance_by: "heuristic"`), the fallback. Entries that already carry
    a `stance_by` keep it, so annotating a record twice changes nothing.
    """
    given: dict[str, Mapping[str, Any]] = {}
    for entry in decision.get("precedents") or []:
        if isinstance(entry, Mapping) and entry.get("rt_id") is not None:
            given.setdefault(str(entry.get("rt_id")).strip(), entry)
    recommendation = str(decision.get("recommendation") or "")
    out = []
    for p in precedents:
        entry = given.get(p.rt_id) or {}
        chosen = chair_stance(entry.get("stance"))
        item: dict[str, Any] = {"rt_id": p.rt_id, "recommendation": p.recommendation, "date": p.date}
        if chosen is None:
            item.update(stance=stance(recommendation, p), stance_by="heuristic")
        else:
            item.update(stance=chosen, stance_by="heuristic" if entry.get("stance_by") == "heuristic" else "chair")
            reason = " ".join(str(entry.get("reason") or "").split())[:REASON_CAP]
            if reason:
                item["reason"] = reason
        out.append(item)
    return out


def settings(config: Mapping[str, Any], disabled: bool = False) -> int:
    """How many precedents to give: config roundtable.precedents (default 3), 0 with --no-precedents."""
    if disabled:
        return 0
    raw = (config.get("roundtable") or {}).get("precedents", DEFAULT_COUNT)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_COUNT
    return max(0, min(value, MAX_COUNT))


def give_precedents(conn: sqlite3.Connection, rt_id: str, topic: str, briefing: str, count: int) -> list[Precedent]:
    """At open: find the precedents and post them once as a `precedents` message the agents' prompts show.

    Returns what was given ([] when count is 0 or nothing matches; nothing is posted then).
    """
    if count <= 0:
        return []
    from amatelier.chat.messages import post
    from amatelier.search.index import ensure_decision_feed

    ensure_decision_feed(conn)
    found = find_precedents(conn, topic, briefing, exclude_rt=rt_id, limit=count)
    if found:
        post(conn, rt_id, "runner", precedents_block(found), kind="precedents")
    return found


_GIVEN_LINE = re.compile(r'^- rt (?P<rt>[0-9a-zA-Z_-]+), (?P<date>[^:]*): "(?P<topic>.*)" -> (?P<rec>.*)$')


def given_precedents(conn: sqlite3.Connection, rt_id: str) -> list[Precedent]:
    """The precedents a roundtable was given at open, read back from its `precedents` message (for a resume)."""
    row = conn.execute("SELECT content FROM messages WHERE rt_id = ? AND kind = 'precedents' ORDER BY id LIMIT 1",
                       (rt_id,)).fetchone()
    found = []
    for line in (row[0] if row else "").splitlines():
        match = _GIVEN_LINE.match(line.strip())
        if match:
            found.append(Precedent(rt_id=match["rt"], recommendation=match["rec"].rstrip("…").strip(),
                                   date=match["date"], topic=match["topic"]))
    return found


def attach_to_decision(conn: sqlite3.Connection, rt_id: str, digest: dict[str, Any],
                       given: Sequence[Precedent]) -> dict[str, Any]:
    """Put `precedents` (with stances) into the digest's decision record and the stored record.

    Returns {} (the digest's decision dict is updated in place); without a decision record
    there is nothing to attach to.
    """
    decision = digest.get("decision")
    if not isinstance(decision, dict):
        return {}
    decision["precedents"] = annotate(decision, given)
    with contextlib.suppress(sqlite3.OperationalError):   # no decisions table: the digest has it
        conn.execute("UPDATE decisions SET record = json_set(record, '$.precedents', json(?))"
                     " WHERE rt_id = ? AND json_valid(record)", (json.dumps(decision["precedents"]), rt_id))
    return {}
