"""The exported HTML in a real headless Chromium: no console errors, charts drawn, citations scroll.

Uses Debian's `chromium` (`.ci/run` installs it when missing) through the playwright package,
never a downloaded browser. Skips, saying why, only where no browser can be had.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.helpers.decision_fixtures import WORKERS, seed_roundtable
from tests.helpers.roundtable_run import run_cli

from amatelier.backends.offline import OfflineBackend
from amatelier.chat import messages as msgs
from amatelier.config import deep_merge, load_config
from amatelier.debate.decision import write_decision
from amatelier.judging import panel, store

CHROMIUM = os.environ.get("AMATELIER_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no chromium browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def page_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    seed = seed_roundtable()
    for n in range(30):  # a long transcript, so a citation has somewhere to scroll to
        seed.conn.execute("INSERT INTO messages (rt_id, agent, kind, round, phase, content, created_at, created_ts)"
                          " VALUES (?, 'runner', 'system', 2, 'FLOOR', ?, '2026-01-01T00:00:00Z', 0)",
                          (seed.rt_id, f"filler line {n}"))
    write_decision(seed.state(), "converged", False, backend=OfflineBackend({}))
    config = deep_merge(load_config(), {"judging": {"jury": [{"model": "sonnet"}, {"model": "opus"}]}})
    jury = panel.run_jury(seed.conn, seed.rt_id, WORKERS, config=config, messages=msgs.transcript(seed.conn, seed.rt_id),
                          audit_forced=True)  # a two-seat jury with the swap audit: the reliability section
    store.save_judging(seed.conn, seed.rt_id, jury.judging)
    out = tmp_path / "export.html"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    result = run_cli(["export", "--format", "html", "-o", str(out)], env)
    assert result.returncode == 0, result.stderr
    return out


def test_renders_without_errors_charts_have_size_and_citations_scroll(page_file: Path):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")

            sizes = page.eval_on_selector_all(
                "svg", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
            assert len(sizes) >= 3 and all(w > 0 and h > 0 for w, h in sizes), sizes
            assert page.locator("svg circle").count() > 0 and page.locator("svg rect").count() > 0

            reliability = page.locator("#reliability")
            assert reliability.is_visible()
            chart = reliability.locator("svg").bounding_box()
            assert chart is not None and chart["width"] > 0 and chart["height"] > 0
            bars = reliability.locator("svg rect").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().width)")
            assert len(bars) >= 4 and all(w > 0 for w in bars)  # legend + a p50 and a p95 bar per model
            judging = reliability.locator("table.rel-judging tr").all_inner_texts()
            assert any("alpha" in row and any(ch.isdigit() for ch in row) for row in judging), judging
            assert reliability.locator("table.rel-calls tr").count() >= 2  # header + at least one model

            link = page.locator("#decision a.cite").last
            target = link.get_attribute("href")
            assert target and target.startswith("#msg-")
            page.evaluate("window.scrollTo(0, 0)")
            before = page.evaluate("window.scrollY")
            box = page.locator(target).bounding_box()
            assert box is not None and box["y"] > 700  # below the fold before the click
            link.click()
            page.wait_for_function(f"document.querySelector('{target}').getBoundingClientRect().top < 120")
            after = page.evaluate("window.scrollY")
            top = page.evaluate(f"document.querySelector('{target}').getBoundingClientRect().top")
            assert after > before and -5 <= top < 120, (before, after, top)
            assert page.evaluate("location.hash") == target
            assert problems == []
            assert all(url.startswith("file://") for url in requests), requests
        finally:
            browser.close()
