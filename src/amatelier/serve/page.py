"""The live page served at `GET /`: one self-contained HTML file (no CDN, no build step)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "static" / "index.html"


@lru_cache(maxsize=1)
def page_html() -> str:
    """The page's text (read once; shipped inside the package)."""
    return PAGE.read_text(encoding="utf-8")
