"""The export's reliability section (issue 13 item 6): jury agreement, audits, latency and errors."""

from __future__ import annotations

import pytest
from tests.helpers.decision_fixtures import WORKERS, seed_roundtable

from amatelier.chat import messages as msgs
from amatelier.chat import roundtables
from amatelier.config import deep_merge, load_config
from amatelier.debate.export_data import load_export
from amatelier.debate.export_html import render_html
from amatelier.debate.export_md import render_md
from amatelier.judging import panel, store
from amatelier.judging.reliability import roundtable_reliability

CALLS = [  # backend, model, status, latency, retries
    ("anthropic", "claude-x", "ok", 100.0, 0), ("anthropic", "claude-x", "ok", 200.0, 0),
    ("anthropic", "claude-x", "ok", 300.0, 0), ("anthropic", "claude-x", "ok", 400.0, 0),
    ("anthropic", "claude-x", "error", 900.0, 2), ("openai", "<script>gpt</script>", "ok", 50.0, 1),
]


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch):
    """A seeded roundtable with known model calls and a two-seat jury's stored judging section."""
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    seed = seed_roundtable()
    for backend, model, status, latency, retries in CALLS:
        seed.conn.execute("INSERT INTO llm_calls (rt_id, agent, role, backend, model, status, latency_ms, retries,"
                          " created_at) VALUES (?, 'elena', 'speak', ?, ?, ?, ?, ?, '2026-01-01T00:00:00Z')",
                          (seed.rt_id, backend, model, status, latency, retries))
    config = deep_merge(load_config(), {"judging": {"jury": [{"model": "sonnet"}, {"model": "opus"}]}})
    outcome = panel.run_jury(seed.conn, seed.rt_id, WORKERS, config=config, topic="split the monolith?",
                             messages=msgs.transcript(seed.conn, seed.rt_id), audit_forced=True)
    store.save_judging(seed.conn, seed.rt_id, outcome.judging)
    return seed, outcome.judging


def _export(seed):
    return load_export(seed.conn, roundtables.get_roundtable(seed.conn, seed.rt_id))


def test_the_per_roundtable_figures_match_the_stored_judging_and_the_calls(judged):
    seed, judging = judged
    rel = roundtable_reliability(seed.conn, seed.rt_id)
    claude = next(c for c in rel["calls"] if c["model"] == "claude-x")
    assert (claude["calls"], claude["errors"], claude["retries"]) == (5, 1, 2)
    assert claude["latency_ms"]["p50"] == 250.0 and claude["latency_ms"]["p95"] == 385.0  # ok calls only
    assert rel["judging"]["alpha"] == judging["alpha"] and isinstance(judging["alpha"], float)
    assert rel["judging"]["audited"] is True and rel["judging"]["flip_rate"] == judging["flip_rate"]
    assert rel["judging"]["compared"] == judging["swap"]["compared"] > 0
    assert rel["judging"]["length_score_r"] == judging["length_score"]["r"]
    assert [s["model"] for s in rel["judging"]["seats"]] == ["sonnet", "opus"]
    assert rel["totals"]["calls"] == sum(c["calls"] for c in rel["calls"]) >= len(CALLS)


def test_the_html_export_has_a_reliability_section_with_a_chart_and_escaped_tables(judged):
    seed, judging = judged
    html = render_html(_export(seed))
    section = html.split('<section id="reliability">', 1)[1].split("</section>", 1)[0]
    assert f"<td>{judging['alpha']:.2f}</td>" in section
    assert f"<td>{judging['flip_rate']:.2f} ({len(judging['swap']['changed'])} of {judging['swap']['compared']}" in section
    assert "<td>anthropic · claude-x</td><td>5</td><td>1</td><td>2</td><td>0</td><td>0</td><td>250 ms</td>" \
           "<td>385 ms</td>" in section
    assert section.count("<svg") == 1 and "p95" in section
    assert "<script>gpt" not in html and "&lt;script&gt;gpt&lt;/script&gt;" in section
    assert html.index('id="reliability"') < html.index('id="transcript"')


def test_the_markdown_export_carries_the_same_tables(judged):
    seed, judging = judged
    md = render_md(_export(seed))
    section = md.split("## Reliability", 1)[1].split("## Transcript", 1)[0]
    assert f"| agreement (Krippendorff's alpha, ordinal) | {judging['alpha']:.2f} |" in section
    assert "| anthropic · claude-x | 5 | 1 | 2 | 0 | 0 | 250 ms | 385 ms |" in section
    assert "self-family recusals" in section and "<svg" not in md


def test_an_unscored_roundtable_says_so_and_json_carries_the_figures():
    seed = seed_roundtable()
    data = _export(seed)
    assert "did not score this roundtable" in render_html(data)
    assert "_The Judge did not score this roundtable" in render_md(data)
    document = data.as_json()
    assert document["reliability"]["judging"] is None and document["reliability"]["calls"] == []
    assert "no model calls were recorded" in render_html(data)


def test_a_corrupt_judging_row_does_not_break_the_export():
    seed = seed_roundtable()
    seed.conn.execute("INSERT INTO judging_results (rt_id, seats, audited, recusals, self_family, detail, created_at)"
                      " VALUES (?, 1, 0, 0, 0, '{not json', '2026-01-01T00:00:00Z')", (seed.rt_id,))
    data = _export(seed)
    assert data.reliability is not None and data.reliability["judging"] is None
    assert 'id="reliability"' in render_html(data)
