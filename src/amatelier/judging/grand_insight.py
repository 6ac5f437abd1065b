"""A grand insight must quote the transcript: the quote check behind every 10.

A 10 needs "the quoted message and the before/after shift". The Judge could invent the
quote; here the quote is matched against what that agent actually said in that
roundtable. Matching ignores case, whitespace runs, typographic quotes and dashes, and
accepts an excerpt (the quote inside one message) or an excerpt with elisions
("first part ... last part", in order, inside one message). A 10 whose quote matches
nothing is capped at 3 and the rejection is kept as `grand_insight_rejected`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REJECTED_CAP = 3
MIN_QUOTE_CHARS = 12   # shorter than this, an "excerpt" identifies no message at all
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\]|\[…\])\s*")
_TRANSLATE = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-",
                            "‐": "-", "\u00a0": " "})
_EDGE = " \t\r\n\"'`«»"


def normalise(text: str) -> str:
    """Lower case, one space between words, plain quotes and dashes (for matching only)."""
    text = unicodedata.normalize("NFKC", str(text or "")).translate(_TRANSLATE).lower()
    return re.sub(r"\s+", " ", text).strip()


def quote_fragments(quote: str) -> list[str]:
    """The parts of a quote between elisions, normalised, without surrounding quote marks."""
    parts = _ELLIPSIS.split(normalise(quote))
    return [p.strip(_EDGE) for p in parts if p.strip(_EDGE)]


def quote_matches(quote: str, message: str) -> bool:
    """True when the quote (or its fragments, in order) appears inside the message."""
    fragments = quote_fragments(quote)
    if not fragments or sum(len(f) for f in fragments) < MIN_QUOTE_CHARS:
        return False
    haystack = normalise(message)
    at = 0
    for fragment in fragments:
        found = haystack.find(fragment, at)
        if found < 0:
            return False
        at = found + len(fragment)
    return True


def find_quoted_message(quote: str, messages: Iterable[Mapping[str, Any]], agent: str) -> int | None:
    """The id of the agent's message that the quote comes from, or None (turn prompts never count)."""
    for message in messages:
        if str(message.get("agent", "")).lower() != agent.lower() or message.get("kind") == "turn":
            continue
        if quote_matches(str(quote or ""), str(message.get("content", ""))):
            return int(message["id"]) if message.get("id") is not None else 0
    return None


def check_grand_insight(agent: str, axes: Mapping[str, int], grand_insight: Mapping[str, Any] | None,
                        messages: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], dict[str, Any] | None,
                                                                          dict[str, Any] | None]:
    """Keep a 10 only when its quote is the agent's own words in this roundtable.

    Takes the axes after the grand-insight rule (at most one 10, with a complete insight).
    Returns (axes, kept insight with its `message_id`, rejection or None). The rejection
    is {reason: "grand_insight_rejected", axis, quote, detail}.
    """
    tens = [axis for axis, value in axes.items() if value == 10]
    if not tens or not grand_insight:
        return dict(axes), (dict(grand_insight) if grand_insight else None), None
    quote = str(grand_insight.get("quote", ""))
    message_id = find_quoted_message(quote, messages, agent)
    if message_id is not None:
        return dict(axes), {**grand_insight, "message_id": message_id}, None
    short = sum(len(f) for f in quote_fragments(quote)) < MIN_QUOTE_CHARS
    detail = (f"the quote is too short to identify a message (under {MIN_QUOTE_CHARS} characters)" if short
              else f"the quote matches no message of {agent} in this roundtable")
    capped = {axis: (REJECTED_CAP if value == 10 else value) for axis, value in axes.items()}
    rejection = {"reason": "grand_insight_rejected", "axis": tens[0], "quote": quote[:500], "detail": detail}
    return capped, None, rejection
