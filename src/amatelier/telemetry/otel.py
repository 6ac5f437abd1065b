"""Optional OpenTelemetry spans for a roundtable, following the GenAI semantic conventions.

Off unless `AMATELIER_OTEL` is set (`otlp`/`1`/`true`: OTLP over HTTP, configured by the
standard OTEL_EXPORTER_OTLP_* variables; `console`: spans printed to stderr) or config
`telemetry.otel` is. Only then is `opentelemetry` imported (extra `otel`). When the host program
already installed an SDK tracer provider (e.g. a test with an in-memory exporter), spans go there.

Workers are separate processes and automatic instrumentation cannot see a `claude -p` call, so
the runner builds every span itself, after the fact, with explicit start and end times:
- the roundtable: `invoke_workflow` (INTERNAL), parent of everything below;
- each stage after the debate: an INTERNAL span `amatelier.stage <name>`;
- each agent turn: `invoke_agent <agent>` (INTERNAL) with `gen_ai.agent.name`;
- each model call (an llm_calls row): `chat <model>` (CLIENT) with provider, model and usage.
"""

from __future__ import annotations

import os
import sys
from typing import Any

OTEL_ENV = "AMATELIER_OTEL"
OFF_VALUES = ("", "0", "false", "no", "off")
TRACER_NAME = "amatelier"
EXPORT_TIMEOUT_S = 3

#: amatelier backend names → gen_ai.provider.name (well-known values where one applies).
PROVIDERS = {"claude-code": "anthropic", "anthropic-sdk": "anthropic", "openai-compat": "openai",
             "gemini": "gcp.gemini", "offline": "amatelier.offline"}


def requested(config: dict[str, Any] | None = None) -> str | None:
    """The exporter asked for (`otlp` or `console`), or None when OpenTelemetry is off."""
    value = os.environ.get(OTEL_ENV)
    if value is None:
        setting = ((config or {}).get("telemetry") or {}).get("otel")
        value = setting if isinstance(setting, str) else ("otlp" if setting is True else "")
    value = str(value).strip().lower()
    if value in OFF_VALUES:
        return None
    return "console" if value == "console" else "otlp"


def provider_name(backend: str | None) -> str:
    """gen_ai.provider.name for an amatelier backend name."""
    return PROVIDERS.get(str(backend or ""), str(backend or "unknown"))


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class OtelSpans:
    """Builds the spans of one roundtable; every method is safe to call in any order."""

    def __init__(self, run_id: str, exporter: str) -> None:
        from opentelemetry import trace

        self._trace = trace
        self._owned = None
        provider = trace.get_tracer_provider()
        if not hasattr(provider, "add_span_processor"):  # no SDK provider yet: install ours
            provider = self._install(exporter)
            self._owned = provider
        self.tracer = provider.get_tracer(TRACER_NAME)
        self.run_id = run_id
        self.root: Any = None
        self.stage_spans: dict[str, Any] = {}

    @staticmethod
    def _install(exporter: str) -> Any:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": "amatelier"}))
        if exporter == "console":  # stderr: stdout carries the digest JSON
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            # a collector that is down costs the run at most a few seconds at exit
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=EXPORT_TIMEOUT_S)))
        trace.set_tracer_provider(provider)
        return provider

    def _context(self, parent: Any) -> Any:
        return self._trace.set_span_in_context(parent) if parent is not None else None

    def start_roundtable(self, *, topic: str, start: float, mode: str) -> None:
        """The invoke_workflow span; stays open until `end_roundtable`."""
        self.root = self.tracer.start_span(
            "invoke_workflow roundtable", kind=self._trace.SpanKind.INTERNAL, start_time=_ns(start),
            attributes={"gen_ai.operation.name": "invoke_workflow", "gen_ai.agent.name": "roundtable",
                        "gen_ai.conversation.id": self.run_id, "gen_ai.provider.name": provider_name(mode),
                        "amatelier.topic": topic[:500]})

    def start_stage(self, name: str, start: float) -> None:
        self.stage_spans[name] = self.tracer.start_span(
            f"amatelier.stage {name}", context=self._context(self.root), start_time=_ns(start),
            attributes={"amatelier.stage": name, "gen_ai.conversation.id": self.run_id})

    def end_stage(self, name: str, end: float, error: str | None = None) -> None:
        span = self.stage_spans.pop(name, None)
        if span is None:
            return
        if error:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error[:500]))
            span.set_attribute("error.type", "stage_error")
        span.end(end_time=_ns(end))

    def parent_for(self, stage: str | None) -> Any:
        """The span new children hang under: the running stage's, else the roundtable's."""
        return self.stage_spans.get(stage or "") or self.root

    def turn(self, *, agent: str, phase: str, round: int, status: str, start: float, end: float,
             backend: str | None, model: str | None, stage: str | None) -> Any:
        """An ended invoke_agent span for one turn; returned so its model calls can hang under it."""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": self.run_id, "gen_ai.provider.name": provider_name(backend),
            "amatelier.phase": phase, "amatelier.round": int(round), "amatelier.turn.status": status}
        if model:
            attributes["gen_ai.request.model"] = model
        span = self.tracer.start_span(f"invoke_agent {agent}", context=self._context(self.parent_for(stage)),
                                      kind=self._trace.SpanKind.INTERNAL, start_time=_ns(start),
                                      attributes=attributes)
        if status != "done":
            span.set_attribute("error.type", status)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, f"turn {status}"))
        span.end(end_time=_ns(max(start, end)))
        return span

    def model_call(self, row: dict[str, Any], *, start: float, end: float, parent: Any) -> None:
        """An ended `chat <model>` CLIENT span built from one llm_calls row."""
        model = str(row.get("model") or "unknown")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider_name(row.get("backend")),
            "gen_ai.request.model": model, "gen_ai.conversation.id": self.run_id,
            "gen_ai.usage.input_tokens": int(row.get("input_tokens") or 0),
            "gen_ai.usage.output_tokens": int(row.get("output_tokens") or 0),
            "gen_ai.usage.cache_read.input_tokens": int(row.get("cache_read_tokens") or 0),
            "gen_ai.usage.cache_creation.input_tokens": int(row.get("cache_write_tokens") or 0),
            "amatelier.role": str(row.get("role") or ""), "amatelier.call_id": int(row.get("id") or 0)}
        if row.get("agent"):
            attributes["gen_ai.agent.name"] = str(row["agent"])
        if row.get("cost_usd") is not None:
            attributes["amatelier.cost_usd"] = float(row["cost_usd"])
        span = self.tracer.start_span(f"chat {model}", context=self._context(parent),
                                      kind=self._trace.SpanKind.CLIENT, start_time=_ns(start),
                                      attributes=attributes)
        if row.get("status") not in (None, "ok"):
            span.set_attribute("error.type", str(row.get("status")))
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(row.get("error") or "")[:500]))
        span.end(end_time=_ns(max(start, end)))

    def end_roundtable(self, end: float, status: str) -> None:
        """Close open stage spans and the roundtable span; flush what this module installed."""
        for name in list(self.stage_spans):
            self.end_stage(name, end, error="the run ended while this stage ran" if status != "done" else None)
        if self.root is not None:
            self.root.set_attribute("amatelier.status", status)
            if status not in ("done",):
                self.root.set_status(self._trace.Status(self._trace.StatusCode.ERROR, f"roundtable {status}"))
            self.root.end(end_time=_ns(end))
            self.root = None
        if self._owned is not None:
            self._owned.force_flush(timeout_millis=EXPORT_TIMEOUT_S * 1000)
