"""The telemetry building blocks: envelopes, the manifest's life, the non-blocking JSONL writer."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
from tests.helpers.schemas import assert_valid, errors

from amatelier.telemetry import events as ev
from amatelier.telemetry import manifest as mf
from amatelier.telemetry.writer import JsonlWriter, read_events

ROW = {"id": 7, "rt_id": "abcd1234", "agent": "elena", "role": "speak", "backend": "anthropic-sdk",
       "model": "claude-sonnet-5-5", "input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": 1000,
       "cache_write_tokens": 0, "latency_ms": 812.3456, "cost_usd": 0.0042, "status": "ok", "error": None,
       "created_at": "2026-11-28T06:53:24Z"}


def test_every_event_kind_validates_and_a_wrong_payload_does_not() -> None:
    samples = [
        ev.envelope(ev.STAGE_START, "r1", ev.stage_payload("debate"), stage="debate"),
        ev.envelope(ev.STAGE_STOP, "r1", ev.stage_payload("scoring", status="ok", duration_ms=12.3456)),
        ev.envelope(ev.STAGE_ERROR, "r1", ev.stage_payload("debrief", error="x" * 5000)),
        ev.envelope(ev.TURN, "r1", ev.turn_payload(agent="elena", phase="SPEAK", round=1, status="done",
                                                   turn_id=3, requested=10.0, claimed=10.01, posted=11.0,
                                                   seen=11.002, message_id=9)),
        ev.envelope(ev.LLM_CALL, "r1", ev.llm_call_payload(ROW)),
        ev.envelope(ev.METRIC, "r1", ev.metric_payload("stability", 0.42, round=2, agent="elena")),
        ev.envelope(ev.DECISION, "r1", ev.decision_payload({"recommendation": "split later", "confidence": 0.7,
                                                            "outcome": "majority", "partial": False})),
        ev.envelope(ev.DECISION, "r1", ev.decision_payload({"recommendation": 5, "confidence": True})),
    ]
    for event in samples:
        assert_valid("telemetry_event", event)
    assert len(samples[2]["payload"]["error"]) <= ev.MAX_TEXT
    turn = samples[3]["payload"]
    assert turn["claim_ms"] == pytest.approx(10.0, abs=0.01) and turn["handoff_ms"] == pytest.approx(2.0, abs=0.01)
    assert samples[6]["payload"]["summary"] == "split later" and samples[6]["payload"]["outcome"] == "majority"
    assert samples[7]["payload"]["summary"] is None and samples[7]["payload"]["confidence"] is None
    call = samples[4]["payload"]
    assert (call["input_tokens"], call["cache_read_tokens"], call["cost_usd"]) == (1200, 1000, 0.0042)
    # a field the schema does not describe, and a payload of the wrong variant, are both refused
    extra = dict(samples[4], payload={**call, "prompt": "secret"})
    assert any("prompt" in e for e in errors("telemetry_event", extra))
    wrong = dict(samples[3], payload=samples[0]["payload"])
    assert errors("telemetry_event", wrong)
    with pytest.raises(ValueError):
        ev.envelope("made_up", "r1", {})


def test_manifest_lifecycle_stays_valid(tmp_path: Path) -> None:
    briefing = tmp_path / "b.md"
    briefing.write_text("# hello\n", encoding="utf-8")
    params = {"workers": ["elena"], "judge": "judge", "max_rounds": 2, "budget": 1, "speaker_timeout_s": 30.0,
              "skip_post": True, "mode": "offline",
              "models": {"elena": {"role": "r", "backend": "offline", "model": "offline-sonnet"}},
              "ceilings": {"max_cost_usd": None, "max_tokens": None, "max_minutes": None}, "jury": None}
    data = mf.new_manifest(run_id="abcd1234", topic="t", briefing_path=briefing, params=params,
                           output_dir=tmp_path, version="0.5.0", seed=42)

    assert data["briefing"]["sha256"] == hashlib.sha256(b"# hello\n").hexdigest()
    assert_valid("run_manifest", data)
    mf.start_stage(data, "debate")
    assert mf.current_stage(data) == "debate"
    mf.stop_stage(data, "debate")
    mf.start_stage(data, "scoring")
    assert_valid("run_manifest", data)
    mf.finish(data, "cut")
    assert data["stages"]["scoring"]["status"] == "error"           # interrupted while running
    assert data["stages"]["debrief"]["status"] == "skipped"          # never started
    assert mf.current_stage(data) == "scoring"
    assert_valid("run_manifest", data)
    data["surprise"] = 1
    assert errors("run_manifest", data)
    with pytest.raises(ValueError):
        mf.stop_stage(data, "debate", "running")


def test_writer_appends_lines_in_order_and_readers_resume_by_offset(tmp_path: Path) -> None:
    path = tmp_path / "run" / "telemetry.jsonl"
    writer = JsonlWriter(path)
    for i in range(50):
        assert writer.emit(ev.envelope(ev.METRIC, "r", ev.metric_payload("n", i)))
    assert writer.close()
    found = read_events(path)
    assert [e["payload"]["value"] for e, _ in found] == list(range(50))
    middle = found[24][1]
    rest = read_events(path, offset=middle)
    assert [e["payload"]["value"] for e, _ in rest] == list(range(25, 50))
    # a half-written last line is not read until it is complete
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"half": ')
    assert read_events(path, offset=found[-1][1]) == []


class _SlowFile:
    """A file whose writes block until released: a stuck disk."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.release.wait(10)
        self.lines.append(text)

    def flush(self) -> None: ...

    def close(self) -> None: ...


def test_a_stuck_disk_never_blocks_emit_and_overflow_is_counted(tmp_path: Path, monkeypatch) -> None:
    release = threading.Event()
    slow = _SlowFile(release)
    import builtins

    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if str(file).endswith("telemetry.jsonl"):
            return slow
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    writer = JsonlWriter(tmp_path / "telemetry.jsonl", max_queue=5)
    accepted = sum(writer.emit({"n": i}) for i in range(100))   # returns at once although nothing is written
    assert accepted <= 6 and writer.dropped == 100 - accepted
    release.set()
    assert writer.close(final=lambda dropped: {"dropped": dropped})
    assert json.loads(slow.lines[-1]) == {"dropped": 100 - accepted}
    assert len(slow.lines) == accepted + 1


def test_a_write_error_is_reported_once_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    reports: list[str] = []
    writer = JsonlWriter(blocker / "telemetry.jsonl", on_error=reports.append)
    for i in range(5):
        writer.emit({"n": i})
    writer.close()
    deadline = time.monotonic() + 5
    while not reports and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(reports) == 1 and "cannot write" in reports[0]
    assert writer.failed and writer.written == 0


def test_otel_is_off_unless_asked_and_the_env_wins_over_config(monkeypatch) -> None:
    from amatelier.telemetry import otel

    monkeypatch.delenv("AMATELIER_OTEL", raising=False)
    assert otel.requested({}) is None
    assert otel.requested({"telemetry": {"otel": None}}) is None
    assert otel.requested({"telemetry": {"otel": "console"}}) == "console"
    assert otel.requested({"telemetry": {"otel": "otlp"}}) == "otlp"
    monkeypatch.setenv("AMATELIER_OTEL", "off")
    assert otel.requested({"telemetry": {"otel": "otlp"}}) is None
    monkeypatch.setenv("AMATELIER_OTEL", "1")
    assert otel.requested({}) == "otlp"
    assert [otel.provider_name(b) for b in ("claude-code", "openai-compat", "gemini", "offline")] == \
        ["anthropic", "openai", "gcp.gemini", "amatelier.offline"]


def test_digest_schema_describes_the_ledgers_venture_rows(tmp_path: Path, monkeypatch) -> None:
    """`ventures` in the digest are ledger rows: the schema must follow the table's columns."""
    from tests.helpers.schemas import schema

    from amatelier.chat.db import open_db
    from amatelier.config import load_config
    from amatelier.economy import ledger

    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    conn = open_db()
    try:
        venture = ledger.pitch_venture(conn, "elena", "scout", "the split ships in a sprint", load_config())
    finally:
        conn.close()
    item = schema("digest")["properties"]["ventures"]["items"]
    assert set(venture) == set(item["properties"])
    digest_part = {"ventures": [venture]}
    found = [e for e in errors("digest", digest_part) if e.startswith("ventures")]
    assert not found, found


def test_appending_after_a_torn_line_drops_the_torn_part(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    path.write_text('{"n": 1}\n{"n": 2}\n{"n": 3, "half', encoding="utf-8")   # a runner killed mid-write
    writer = JsonlWriter(path)
    writer.emit({"n": 4})
    assert writer.close()
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == \
        [{"n": 1}, {"n": 2}, {"n": 4}]
    only_torn = tmp_path / "torn.jsonl"
    only_torn.write_text('{"never finished', encoding="utf-8")
    writer = JsonlWriter(only_torn)
    writer.emit({"n": 1})
    assert writer.close()
    assert only_torn.read_text(encoding="utf-8") == '{"n":1}\n'
