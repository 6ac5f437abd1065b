"""The live page in headless Chromium: it loads, connects to the stream, shows messages as they arrive."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from tests.helpers.serve_server import job_body, start_server

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_the_page_shows_a_live_offline_debate_as_it_happens(tmp_path: Path, browser) -> None:
    server = start_server(tmp_path / "ws", AMATELIER_OFFLINE_DELAY_MS="400")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            job = client.post("/v1/jobs", json=job_body(max_rounds=2)).json()
        page = browser.new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda r: failed.append(r.url) if "/stream" not in r.url else None)
        page.goto(f"{server.url}/#job={job['id']}")
        page.wait_for_selector("body[data-stream-connected='1']", timeout=30_000)
        page.wait_for_selector("#typing:has-text('is typing')", timeout=60_000)
        page.wait_for_selector(".msg.speech", timeout=60_000)
        early = page.locator(".msg.speech").count()
        ended_early = page.evaluate("document.body.dataset.streamEnded || ''")
        assert ended_early == ""                      # the first speeches arrived while the debate still ran
        # a person speaks from the page; the message comes back through the stream
        page.fill("#say-name", "priya")
        page.fill("#say-text", "<b>we tried Kafka</b> in 2023")
        page.click("#say button")
        page.wait_for_selector(".msg.human", timeout=30_000)
        assert page.locator(".msg.human .text").inner_text() == "<b>we tried Kafka</b> in 2023"
        assert page.locator(".msg.human .who").inner_text() == "priya"
        page.wait_for_selector("body[data-stream-ended]", timeout=120_000)
        assert page.evaluate("document.body.dataset.streamEnded") == "done"
        final = page.locator(".msg.speech").count()
        assert final > early >= 1
        speakers = set(page.locator(".msg.speech .who").all_inner_texts())
        assert speakers == {"elena", "marcus"}
        assert page.locator("#s-status").inner_text() == "done"
        assert page.locator("#s-cost").inner_text().endswith("calls")
        page.wait_for_selector("#decision:visible", timeout=30_000)
        assert page.locator("#decision-text").inner_text().strip()
        assert page.locator("#jobs li").count() == 1
        assert not failed
        # message text is shown as text, never interpreted as HTML
        assert page.locator(".msg .text script").count() == 0
    finally:
        server.stop()


def test_the_page_works_behind_a_token(tmp_path: Path, browser) -> None:
    token = "page-test-token-0123456789"
    server = start_server(tmp_path / "ws", "--host", "0.0.0.0", AMATELIER_SERVE_TOKEN=token)
    try:
        url = f"http://127.0.0.1:{server.info['port']}"
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            job = client.post("/v1/jobs", json=job_body(max_rounds=1)).json()
        page = browser.new_page()
        page.goto(f"{url}/#token={token}")
        page.wait_for_selector(f"#jobs li[data-id='{job['id']}']", timeout=30_000)
        page.wait_for_selector("body[data-stream-ended='done']", timeout=120_000)
        assert page.locator(".msg.speech").count() >= 2
        without = browser.new_page()                     # no token: the API refuses, the page says so
        without.goto(f"{url}/")
        without.wait_for_selector("#conn:has-text('bearer token')", timeout=30_000)
        assert without.locator("#jobs li").count() == 0
    finally:
        server.stop()
