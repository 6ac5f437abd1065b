"""The run manifest: what a roundtable was asked to do and how far it got (run_manifest.schema.json).

Written when the roundtable opens and replaced atomically (temp file + rename) each time a stage
starts or stops, so a reader always sees a whole, valid file. Building and updating the dict are
pure functions; `ManifestFile` only writes. A write that fails (full or read-only disk) is reported
once and never stops the roundtable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amatelier.telemetry import SCHEMA_VERSION
from amatelier.telemetry.events import STAGES, clip, iso_now

PENDING, RUNNING, OK, ERROR, SKIPPED = "pending", "running", "ok", "error", "skipped"
STAGE_STATUSES = (PENDING, RUNNING, OK, ERROR, SKIPPED)
RUN_STATUSES = ("running", "done", "cut", "failed")
BATCH_ENV = "AMATELIER_BATCH_ID"


def file_sha256(path: Path) -> str | None:
    """Hex sha256 of a file's bytes (None when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def new_manifest(*, run_id: str, topic: str, briefing_path: Path, params: dict[str, Any],
                 output_dir: Path, version: str, batch_id: str | None = None, seed: int | None = None,
                 quality_targets: dict[str, Any] | None = None, runner_pid: int | None = None,
                 now: float | None = None) -> dict[str, Any]:
    """The manifest as written at start: every stage pending, artefacts known so far."""
    stamp = iso_now(now)
    briefing = Path(briefing_path)
    try:
        size: int | None = briefing.stat().st_size
    except OSError:
        size = None
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "batch_id": batch_id,
        "status": "running",
        "topic": topic,
        "briefing": {"path": str(briefing), "sha256": file_sha256(briefing), "bytes": size},
        "params": params,
        "stages": {name: {"status": PENDING, "started_at": None, "ended_at": None, "error": None}
                   for name in STAGES},
        "output_dir": str(output_dir),
        "artefacts": {"manifest": str(Path(output_dir) / "manifest.json"),
                      "telemetry": str(Path(output_dir) / "telemetry.jsonl"),
                      "digest": None, "export": None},
        "created_at": stamp,
        "updated_at": stamp,
        "amatelier_version": version,
        "seed": seed,
        "quality_targets": quality_targets,
        "runner_pid": runner_pid,
    }


def resume_manifest(previous: dict[str, Any], *, params: dict[str, Any], runner_pid: int | None,
                    now: float | None = None) -> dict[str, Any]:
    """The manifest of a resumed run: the same run (id, created_at, seed), running again.

    Every stage starts over as pending (the debate continues under a new runner; the steps after
    it have not run for the whole debate yet).
    """
    data = dict(previous)
    data.update(status="running", params=params, runner_pid=runner_pid, updated_at=iso_now(now),
                stages={name: {"status": PENDING, "started_at": None, "ended_at": None, "error": None}
                        for name in STAGES})
    return data


def start_stage(manifest: dict[str, Any], name: str, *, now: float | None = None) -> dict[str, Any]:
    """Mark `name` running (KeyError for a stage the schema does not know)."""
    stage = manifest["stages"][name]
    stage.update(status=RUNNING, started_at=iso_now(now), ended_at=None, error=None)
    manifest["updated_at"] = stage["started_at"]
    return manifest


def stop_stage(manifest: dict[str, Any], name: str, status: str = OK, *, error: str | None = None,
               now: float | None = None) -> dict[str, Any]:
    """Mark `name` finished (`ok`, `error` or `skipped`), with the error text when it failed."""
    if status not in (OK, ERROR, SKIPPED):
        raise ValueError(f"a stage ends ok, error or skipped, not {status!r}")
    stage = manifest["stages"][name]
    stage.update(status=status, ended_at=iso_now(now), error=clip(error, 1000) if error else None)
    manifest["updated_at"] = stage["ended_at"]
    return manifest


def finish(manifest: dict[str, Any], status: str, *, now: float | None = None) -> dict[str, Any]:
    """The run ended: its status, and every stage still pending or running marked skipped."""
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}")
    manifest["status"] = status
    for stage in manifest["stages"].values():
        if stage["status"] == RUNNING:
            stage.update(status=ERROR if status != "done" else SKIPPED, ended_at=iso_now(now),
                         error=stage["error"] or ("the run ended while this stage ran"
                                                  if status != "done" else None))
        elif stage["status"] == PENDING:
            stage["status"] = SKIPPED
    manifest["updated_at"] = iso_now(now)
    return manifest


def current_stage(manifest: dict[str, Any]) -> str | None:
    """The stage running now, else the last one that started (None before the debate)."""
    last = None
    stages = manifest.get("stages")
    if not isinstance(stages, dict):  # a damaged manifest: no stage, never an error for the caller
        return None
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        if stage.get("status") == RUNNING:
            return name
        if stage.get("started_at"):
            last = name
    return last


class ManifestFile:
    """Writes one manifest dict to runs/<rt_id>/manifest.json, atomically, after every change."""

    def __init__(self, path: Path, manifest: dict[str, Any],
                 on_error: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.data = manifest
        self._on_error = on_error
        self.failed: str | None = None

    def save(self) -> bool:
        """Replace the file with the current dict; False (reported once) when the disk refuses."""
        from amatelier.atomicio import write_json_atomic

        try:
            write_json_atomic(self.path, self.data)
        except OSError as exc:
            if self.failed is None and self._on_error is not None:
                self._on_error(f"cannot write the run manifest {self.path}: {exc}")
            self.failed = f"{type(exc).__name__}: {exc}"
            return False
        return True
