"""Small text helpers shared by the learning loop: word sets, overlap, content hashes."""

from __future__ import annotations

import hashlib
import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "then", "than", "so", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "i", "you", "he", "she", "we", "they", "me", "my", "your", "our", "their", "his", "her", "them", "us", "do", "does", "did", "not", "no", "yes", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "have", "has", "had", "just", "also", "very", "more", "most", "less", "least", "any", "all", "each", "every", "some", "such", "own", "when", "while", "where", "which", "who", "whom", "what", "how", "why", "about", "over", "under", "before", "after", "again"]
)


def words(text: str) -> set[str]:
    """Content words of `text`: lowercase, stopwords and one-letter tokens dropped."""
    return {w for w in _WORD.findall((text or "").lower()) if len(w) > 1 and w not in STOPWORDS}


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the content words of two texts (0.0 when either is empty)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def best_match(text: str, candidates: list[str]) -> tuple[int, float]:
    """Index and overlap of the candidate most like `text`; (-1, 0.0) when none."""
    best, score = -1, 0.0
    for index, candidate in enumerate(candidates):
        overlap = word_overlap(text, candidate)
        if overlap > score:
            best, score = index, overlap
    return best, score


def content_hash(*parts: str) -> str:
    """Stable hash of normalised text (case and whitespace insensitive)."""
    normal = "\x1f".join(" ".join((p or "").lower().split()) for p in parts)
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters on a word boundary, with an ellipsis when cut."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)].rsplit(" ", 1)[0]
    return cut + "…"
