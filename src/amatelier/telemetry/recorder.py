"""One roundtable's telemetry: the manifest, the JSONL events and (optionally) OTel spans.

The runner holds one `RunRecorder` and tells it what happens (a stage starts or stops, a turn
ends, new llm_calls rows exist, a metric, the decision). Nothing here may stop the debate:
every failure is reported once through `warn` and the run carries on.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier.telemetry import events as ev
from amatelier.telemetry import manifest as mf
from amatelier.telemetry.writer import JsonlWriter

#: llm_calls roles answered inside a debate turn (their spans hang under the turn's span).
TURN_ROLES = ("research", "speak", "rebuttal", "gate", "floor")


@dataclass
class TurnRecord:
    """What the runner knows about one finished turn (times are unix seconds)."""

    agent: str
    phase: str
    round: int
    status: str
    turn_id: int | None = None
    message_id: int | None = None
    requested: float | None = None
    claimed: float | None = None
    posted: float | None = None
    seen: float | None = None


def _epoch(stamp: Any) -> float | None:
    """`2026-11-28T06:53:24Z` (llm_calls.created_at) to unix seconds."""
    if not isinstance(stamp, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def last_reported_call(path: Path) -> int:
    """The highest llm_calls id an existing telemetry file already has an llm_call event for."""
    from amatelier.telemetry.writer import read_events

    found = 0
    for event, _ in read_events(path):
        if event.get("event_name") == ev.LLM_CALL and isinstance(event.get("payload"), dict):
            with contextlib.suppress(TypeError, ValueError):
                found = max(found, int(event["payload"].get("call_id") or 0))
    return found


class RunRecorder:
    """Manifest + telemetry.jsonl + spans for one run; all methods are failure-proof."""

    def __init__(self, run_id: str, run_dir: Path, manifest: dict[str, Any], *,
                 warn: Callable[[str], None] | None = None, otel: Any = None,
                 models: dict[str, dict[str, str]] | None = None) -> None:
        self.run_id = run_id
        self.run_dir = Path(run_dir)
        self._warned: set[str] = set()
        self._warn = warn
        self.manifest = mf.ManifestFile(self.run_dir / "manifest.json", manifest, on_error=self.warn_once)
        self.writer = JsonlWriter(self.run_dir / "telemetry.jsonl", on_error=self.warn_once)
        self.otel = otel
        self.models = models or {}
        self.stage: str | None = None
        self._stage_started: dict[str, float] = {}
        self.last_call_id = 0
        self.closed = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def open(cls, *, run_id: str, topic: str, briefing_path: Path, params: dict[str, Any],
             config: dict[str, Any] | None = None, batch_id: str | None = None, seed: int | None = None,
             quality_targets: dict[str, Any] | None = None, run_dir: Path | None = None,
             warn: Callable[[str], None] | None = None, resumed: bool = False) -> RunRecorder:
        """Create runs/<run_id>/, write the first manifest, start the event writer and spans.

        `resumed`: the run continues under a new runner; its manifest (id, created_at, seed) is
        kept and its telemetry.jsonl goes on where it ended.
        """
        from amatelier import __version__, paths
        from amatelier.atomicio import read_json

        directory = Path(run_dir) if run_dir is not None else paths.user_run_dir(run_id)
        if batch_id is None:
            batch_id = os.environ.get(mf.BATCH_ENV, "").strip() or None
        previous = None
        if resumed:
            with contextlib.suppress(OSError, ValueError):
                previous = read_json(directory / "manifest.json", None)
        if isinstance(previous, dict) and previous.get("run_id") == run_id and isinstance(previous.get("stages"), dict):
            data = mf.resume_manifest(previous, params=params, runner_pid=os.getpid())
        else:
            data = mf.new_manifest(run_id=run_id, topic=topic, briefing_path=briefing_path, params=params,
                                   output_dir=directory, version=__version__, batch_id=batch_id, seed=seed,
                                   quality_targets=quality_targets, runner_pid=os.getpid())
        models = params.get("models") if isinstance(params.get("models"), dict) else {}
        recorder = cls(run_id, directory, data, warn=warn, models=models)
        if resumed:  # calls the earlier runner already reported are not reported again
            recorder.last_call_id = last_reported_call(directory / "telemetry.jsonl")
        recorder.manifest.save()
        recorder.otel = recorder._start_otel(config, topic=topic, mode=str(params.get("mode") or ""))
        return recorder

    def _start_otel(self, config: dict[str, Any] | None, *, topic: str, mode: str) -> Any:
        from amatelier.telemetry import otel

        exporter = otel.requested(config)
        if exporter is None:
            return None
        try:
            spans = otel.OtelSpans(self.run_id, exporter)
            spans.start_roundtable(topic=topic, start=time.time(), mode=mode)
        except ImportError:
            self.warn_once("OpenTelemetry was asked for (AMATELIER_OTEL) but is not installed: "
                           "pip install '.[otel]' from your amatelier checkout")
            return None
        except Exception as exc:  # noqa: BLE001 - tracing must never stop a roundtable
            self.warn_once(f"OpenTelemetry could not start: {type(exc).__name__}: {exc}")
            return None
        return spans

    # ------------------------------------------------------------------ helpers

    def warn_once(self, text: str) -> None:
        """Report a telemetry problem once per kind (never raises)."""
        key = text.split(":", 1)[0]
        if key in self._warned or self._warn is None:
            return
        self._warned.add(key)
        with contextlib.suppress(Exception):
            self._warn(f"amatelier: warning: {text}")

    def emit(self, event_name: str, payload: dict[str, Any], *, stage: str | None = None) -> None:
        """Queue one event (the current stage unless given)."""
        try:
            self.writer.emit(ev.envelope(event_name, self.run_id, payload,
                                         stage=stage if stage is not None else self.stage))
        except Exception as exc:  # noqa: BLE001
            self.warn_once(f"telemetry event dropped: {type(exc).__name__}: {exc}")

    def _span(self, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.otel is None:
            return None
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.warn_once(f"OpenTelemetry {what} failed: {type(exc).__name__}: {exc}")
            return None

    # ------------------------------------------------------------------ stages

    def stage_start(self, name: str) -> None:
        """A stage begins: manifest, stage_start event, stage span."""
        now = time.time()
        self.stage = name
        self._stage_started[name] = now
        with contextlib.suppress(KeyError):
            mf.start_stage(self.manifest.data, name, now=now)
        self.manifest.save()
        self.emit(ev.STAGE_START, ev.stage_payload(name), stage=name)
        if self.otel is not None and name != "debate":
            self._span("stage span", self.otel.start_stage, name, now)

    def stage_stop(self, name: str, status: str = mf.OK, *, error: str | None = None) -> None:
        """A stage ends (`ok`, `error` or `skipped`); an error also gets a stage_error event."""
        now = time.time()
        started = self._stage_started.pop(name, None)
        duration = (now - started) * 1000.0 if started is not None else None
        if error:
            self.emit(ev.STAGE_ERROR, ev.stage_payload(name, error=error), stage=name)
        with contextlib.suppress(KeyError, ValueError):
            mf.stop_stage(self.manifest.data, name, status, error=error, now=now)
        self.manifest.save()
        self.emit(ev.STAGE_STOP, ev.stage_payload(name, status=status, duration_ms=duration), stage=name)
        if self.otel is not None:
            self._span("stage span", self.otel.end_stage, name, now, error)
        if self.stage == name:
            self.stage = None

    @contextlib.contextmanager
    def stage_of(self, name: str) -> Iterator[None]:
        """`with recorder.stage_of("scoring"):` — stop ok, or error (and re-raise) on an exception."""
        self.stage_start(name)
        try:
            yield
        except BaseException as exc:
            self.stage_stop(name, mf.ERROR, error=f"{type(exc).__name__}: {exc}")
            raise
        self.stage_stop(name)

    def stage_skipped(self, name: str) -> None:
        """A stage that will not run this time (e.g. debrief under --skip-post)."""
        with contextlib.suppress(KeyError):
            self.manifest.data["stages"][name]["status"] = mf.SKIPPED
        self.manifest.save()

    def set_artefact(self, name: str, path: Path | str | None) -> None:
        """Record where an artefact (digest, export) was written."""
        self.manifest.data.setdefault("artefacts", {})[name] = str(path) if path is not None else None
        self.manifest.save()

    # ------------------------------------------------------------------ turns, calls, metrics

    def turn(self, record: TurnRecord, conn: sqlite3.Connection | None = None, *,
             calls_up_to: int | None = None) -> None:
        """A finished turn: a turn event, its span, then the model calls it made.

        `calls_up_to` (an llm_calls id) leaves later calls to later turns: turns that ran at the
        same time (independent openings) are recorded one by one in the order of their calls.
        """
        self.emit(ev.TURN, ev.turn_payload(
            agent=record.agent, phase=record.phase, round=record.round, status=record.status,
            turn_id=record.turn_id, requested=record.requested, claimed=record.claimed,
            posted=record.posted, seen=record.seen, message_id=record.message_id))
        span = None
        if self.otel is not None and record.requested is not None:
            model = self.models.get(record.agent, {})
            span = self._span("turn span", self.otel.turn, agent=record.agent, phase=record.phase,
                              round=record.round, status=record.status, start=record.requested,
                              end=record.seen or time.time(), backend=model.get("backend"),
                              model=model.get("model"), stage=self.stage)
        if conn is not None:
            self.calls(conn, turn=record, turn_span=span, up_to=calls_up_to)

    def calls(self, conn: sqlite3.Connection, *, turn: TurnRecord | None = None,
              turn_span: Any = None, up_to: int | None = None) -> int:
        """Emit an llm_call event (and span) for each llm_calls row not yet seen; returns how many."""
        try:
            rows = [dict(r) for r in conn.execute(
                "SELECT * FROM llm_calls WHERE rt_id = ? AND id > ? AND id <= ? ORDER BY id",
                (self.run_id, self.last_call_id, up_to if up_to is not None else 2**62))]
        except sqlite3.Error as exc:
            self.warn_once(f"telemetry cannot read llm_calls: {exc}")
            return 0
        for row in rows:
            self.last_call_id = max(self.last_call_id, int(row["id"]))
            self.emit(ev.LLM_CALL, ev.llm_call_payload(row))
            if self.otel is not None:
                start, end, parent = self._call_times(row, turn, turn_span)
                self._span("model-call span", self.otel.model_call, row, start=start, end=end, parent=parent)
        return len(rows)

    def _call_times(self, row: dict[str, Any], turn: TurnRecord | None, turn_span: Any) -> tuple[float, float, Any]:
        """When a call ran: in a turn it ended when the answer was posted; else at its record time."""
        latency = float(row.get("latency_ms") or 0.0) / 1000.0
        in_turn = turn is not None and row.get("agent") == turn.agent and row.get("role") in TURN_ROLES
        if in_turn and turn is not None:
            end = turn.posted or turn.seen or time.time()
            start = max(end - latency, turn.claimed or turn.requested or end - latency)
            return start, end, turn_span or self.otel.parent_for(self.stage)
        recorded = _epoch(row.get("created_at"))
        end = min(time.time(), recorded + 1.0) if recorded is not None else time.time()
        return end - latency, end, self.otel.parent_for(self.stage)

    def metric(self, name: str, value: float | int | None, *, round: int | None = None,
               unit: str | None = None, agent: str | None = None) -> None:
        self.emit(ev.METRIC, ev.metric_payload(name, value, round=round, unit=unit, agent=agent))

    def decision(self, record: dict[str, Any] | None, *, path: str | None = None) -> None:
        self.emit(ev.DECISION, ev.decision_payload(record, path=path))

    # ------------------------------------------------------------------ the end

    def close(self, status: str) -> None:
        """The run ended (`done`, `cut` or `failed`): final manifest, drain events, end spans."""
        if self.closed:
            return
        self.closed = True
        now = time.time()
        with contextlib.suppress(ValueError):
            mf.finish(self.manifest.data, status, now=now)
        self.manifest.save()
        if self.otel is not None:
            self._span("roundtable span", self.otel.end_roundtable, now, status)

        def dropped_metric(count: int) -> dict[str, Any]:
            return ev.envelope(ev.METRIC, self.run_id, ev.metric_payload("telemetry_events_dropped", count),
                               stage=None)

        if not self.writer.close(final=dropped_metric):
            self.warn_once(f"telemetry: not every event reached {self.writer.path} "
                           f"({self.writer.dropped} dropped)")
