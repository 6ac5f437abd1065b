"""`amatelier export`: a self-contained HTML page, Markdown, JSON, and one-line errors."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.helpers.decision_fixtures import seed_roundtable
from tests.helpers.roundtable_run import run_cli

from amatelier.backends.offline import OfflineBackend
from amatelier.chat import messages as msgs
from amatelier.debate.decision import write_decision

HOSTILE = ('<script>alert(1)</script><img src="https://evil.example/x.png"> and a link to #999999 '
           'and &amp; and #1 priority')


def export_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}


def add_scores(seed) -> None:
    stamp = msgs.utc_now()
    for agent, axes in (("elena", (2, 3, 2, 1)), ("marcus", (1, 2, 3, 10))):
        seed.conn.execute(
            "INSERT INTO scores (rt_id, agent, novelty, accuracy, impact, challenge, total, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (seed.rt_id, agent, *axes, sum(axes), stamp))
    seed.conn.execute("INSERT INTO scores (rt_id, agent, unscored_reason, created_at) VALUES (?, 'clare', ?, ?)",
                      (seed.rt_id, "the judge's answer was invalid", stamp))


@pytest.fixture
def exported(tmp_path: Path):
    seed = seed_roundtable()
    msgs.post(seed.conn, seed.rt_id, "elena", HOSTILE, kind="speech", round=2, phase="FLOOR")
    add_scores(seed)
    write_decision(seed.state(), "converged", False, backend=OfflineBackend({}))
    return seed


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def message_ids(seed) -> list[int]:
    return [int(r[0]) for r in seed.conn.execute("SELECT id FROM messages WHERE rt_id = ? ORDER BY id", (seed.rt_id,))]


def test_html_is_self_contained_with_charts_and_an_anchor_per_message(exported, tmp_path):
    out = tmp_path / "out.html"
    result = run_cli(["export", "--format", "html", "-o", str(out)], export_env())
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    html = out.read_text(encoding="utf-8")
    tags = parse(html)
    for tag, attrs in tags:
        if tag in ("script", "link", "img", "iframe", "source", "use", "image"):
            for key in ("src", "href", "xlink:href"):
                assert not (attrs.get(key) or "").lower().startswith(("http://", "https://", "//")), (tag, attrs)
    assert "http://" not in html.split("<main>", 1)[0] and "https://" not in html.split("<main>", 1)[0]
    assert sum(1 for tag, _ in tags if tag == "svg") >= 3
    anchors = {attrs["id"] for _, attrs in tags if (attrs.get("id") or "").startswith("msg-")}
    assert anchors == {f"msg-{i}" for i in message_ids(exported)}
    links = {attrs["href"][1:] for tag, attrs in tags if tag == "a" and (attrs.get("href") or "").startswith("#msg-")}
    assert links and links <= anchors
    assert "#999999" in html and 'href="#msg-999999"' not in html  # no link to a message not on the page
    decision_links = html.split('<section id="decision">', 1)[1].split("</section>", 1)[0]
    assert f'href="#msg-{exported.ids["clare1"]}"' in decision_links
    # Hostile message text is shown as text, never as markup.
    assert sum(1 for tag, _ in tags if tag == "script") == 1 and not any(tag == "img" for tag, _ in tags)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)


def test_markdown_carries_the_same_content_without_charts(exported):
    result = run_cli(["export", exported.rt_id, "--format", "md"], export_env())
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert md.startswith("# split the monolith?") and "**RECOMMENDATION:**" in md and "<svg" not in md
    for section in ("### Why", "### Dissent", "### Who moved", "### Open questions", "## Positions by round",
                    "## Scores", "## Speaking share", "## Tokens and cost", "## Transcript"):
        assert section in md, section
    for mid in message_ids(exported):
        assert f'<a id="msg-{mid}"></a>' in md
    assert f"marcus r1→r2, moved by clare #{exported.ids['clare1']}" in md
    assert "POSITION:" not in md.split("## Transcript", 1)[1]  # shown as a position note, not raw


def test_json_and_the_json_flag(exported, tmp_path):
    result = run_cli(["export", "--format", "json"], export_env())
    data = json.loads(result.stdout)
    assert data["rt_id"] == exported.rt_id and data["decision"]["synthesized"] is True
    assert data["position_changes"][0]["agent"] == "marcus"
    assert data["scores"]["marcus"]["challenge"] == 10 and data["scores"]["clare"]["unscored_reason"]
    out = tmp_path / "x.md"
    meta = json.loads(run_cli(["export", "--format", "md", "-o", str(out), "--json"], export_env()).stdout)
    assert meta == {"rt_id": exported.rt_id, "format": "md", "path": str(out), "bytes": out.stat().st_size}


def test_a_roundtable_without_a_stored_record_gets_one_built_from_positions():
    seed = seed_roundtable()
    result = run_cli(["export", seed.rt_id, "--format", "json"], export_env())
    decision = json.loads(result.stdout)["decision"]
    assert decision["synthesized"] is False and decision["outcome"] == "consensus"
    assert seed.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0  # export wrote nothing


@pytest.mark.parametrize(("args", "message"), [
    (["export", "nope"], "no roundtable with id nope"),
    (["export", "--format", "pdf"], "unknown format 'pdf' (choose one of: html, md, json)"),
])
def test_errors_are_one_line(exported, args, message):
    result = run_cli(args, export_env())
    assert result.returncode == 2 and result.stderr.strip() == f"amatelier: error: {message}"
    as_json = run_cli([*args, "--json"], export_env())
    assert as_json.returncode == 2 and json.loads(as_json.stderr) == {"error": message, "code": 2}


def test_bad_output_targets_are_refused_and_leave_nothing(exported, tmp_path):
    result = run_cli(["export", "-o", str(tmp_path)], export_env())
    assert result.returncode == 2 and "is a directory" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(["export", "-o", str(tmp_path / "missing" / "x.html")], export_env())
    assert result.returncode == 2 and "does not exist" in result.stderr
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_cli(["export", "-o", str(locked / "x.html")], export_env())
        if os.geteuid() != 0:  # root writes anywhere
            assert result.returncode == 2 and "cannot write" in result.stderr
            assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_no_database_yet_is_a_clear_error(tmp_path):
    env = {**export_env(), "AMATELIER_WORKSPACE": str(tmp_path / "empty")}
    result = run_cli(["export"], env)
    assert result.returncode == 2 and "no roundtable database" in result.stderr


def test_a_corrupt_stored_record_is_replaced_by_one_built_from_positions(exported):
    exported.conn.execute("UPDATE decisions SET record = '{not json' WHERE rt_id = ?", (exported.rt_id,))
    result = run_cli(["export", exported.rt_id, "--format", "json"], export_env())
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)["decision"]
    assert decision["synthesized"] is False and decision["recommendation"]


def test_an_empty_roundtable_still_exports(tmp_path):
    from amatelier.chat import roundtables
    from amatelier.chat.db import open_db

    conn = open_db()
    rt_id = roundtables.open_roundtable(conn, "nothing said yet", ["elena", "judge"])
    for fmt in ("html", "md", "json"):
        result = run_cli(["export", rt_id, "--format", fmt], export_env())
        assert result.returncode == 0, result.stderr
    html = run_cli(["export", rt_id], export_env()).stdout
    assert "<svg" in html and "no positions were declared" in html
    decision = json.loads(run_cli(["export", rt_id, "--format", "json"], export_env()).stdout)["decision"]
    assert decision["outcome"] == "no_decision" and decision["partial"] is True
