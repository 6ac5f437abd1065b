"""With the otel extra, a roundtable emits GenAI spans: roundtable, agent turns, model calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import BRIEFING, REPO, rt_env

pytestmark = pytest.mark.e2e

# Runs in its own process: a tracer provider can be installed once per process.
SCRIPT = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from amatelier.debate.runner import RunOptions, run_roundtable

result = run_roundtable(RunOptions(topic="split the monolith?", briefing=sys.argv[1], workers=["elena", "marcus"],
                                   max_rounds=1, skip_post=True), warn=lambda text: None)
spans = [{"name": s.name, "kind": s.kind.name, "attributes": dict(s.attributes),
          "span_id": s.context.span_id, "trace_id": s.context.trace_id,
          "parent": s.parent.span_id if s.parent else None, "start": s.start_time, "end": s.end_time}
         for s in exporter.get_finished_spans()]
print(json.dumps({"rt_id": result.digest["rt_id"], "spans": spans}))
"""


def test_in_memory_exporter_sees_roundtable_turn_and_model_call_spans(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(BRIEFING)], env=rt_env(tmp_path / "ws", AMATELIER_OTEL="1"),
                          capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rt_id, spans = result["rt_id"], result["spans"]
    by_op: dict[str, list[dict]] = {}
    for span in spans:
        by_op.setdefault(span["attributes"].get("gen_ai.operation.name"), []).append(span)

    (root,) = by_op["invoke_workflow"]
    assert root["kind"] == "INTERNAL" and root["parent"] is None
    assert root["attributes"]["gen_ai.conversation.id"] == rt_id
    assert {s["trace_id"] for s in spans} == {root["trace_id"]}          # one trace per roundtable

    turns = by_op["invoke_agent"]
    assert {t["attributes"]["gen_ai.agent.name"] for t in turns} >= {"elena", "marcus", "judge"}
    for turn in turns:
        assert turn["name"] == f"invoke_agent {turn['attributes']['gen_ai.agent.name']}"
        assert turn["attributes"]["gen_ai.conversation.id"] == rt_id
        assert turn["attributes"]["gen_ai.provider.name"] == "amatelier.offline"
        assert turn["parent"] == root["span_id"] and turn["start"] <= turn["end"]

    chats = by_op["chat"]
    turn_ids = {t["span_id"] for t in turns}
    in_turns = [c for c in chats if c["parent"] in turn_ids]
    assert len(in_turns) == len(turns)                                   # one model call per answered turn
    for chat in chats:
        attrs = chat["attributes"]
        assert chat["kind"] == "CLIENT" and chat["name"] == f"chat {attrs['gen_ai.request.model']}"
        assert attrs["gen_ai.provider.name"] == "amatelier.offline" and attrs["gen_ai.conversation.id"] == rt_id
        for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens"):
            assert isinstance(attrs[key], int) and attrs[key] >= 0
        assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
        assert chat["start"] <= chat["end"]
    for chat in in_turns:   # a model call sits inside its turn
        parent = next(t for t in turns if t["span_id"] == chat["parent"])
        assert chat["attributes"]["gen_ai.agent.name"] == parent["attributes"]["gen_ai.agent.name"]
        assert parent["start"] <= chat["start"] and chat["end"] <= parent["end"]
    # the Judge's scoring call happens after the debate, inside the scoring stage's span
    (stage,) = [s for s in spans if s["name"] == "amatelier.stage scoring"]
    assert stage["parent"] == root["span_id"] and stage["attributes"]["amatelier.stage"] == "scoring"
    scoring = [c for c in chats if c["attributes"]["amatelier.role"] == "score"]
    assert scoring and all(c["parent"] == stage["span_id"] for c in scoring)


def test_console_spans_go_to_stderr_and_leave_the_digest_json_alone(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    from tests.helpers.roundtable_run import roundtable_args, run_cli

    done = run_cli(roundtable_args("split?", "--workers", "elena", "--max-rounds", "1", "--skip-post"),
                   rt_env(tmp_path / "ws", AMATELIER_OTEL="console"))
    assert done.returncode == 0, done.stderr[-2000:]
    digest = json.loads(done.stdout)
    assert '"name": "invoke_workflow roundtable"' in done.stderr
    assert f'"gen_ai.conversation.id": "{digest["rt_id"]}"' in done.stderr
