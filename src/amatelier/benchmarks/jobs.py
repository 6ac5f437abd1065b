"""One benchmark roundtable as a job: the runner command to start and how to read its end.

Both engines run the same command, `amatelier roundtable --benchmark ...`, as a
subprocess: locally in the user's workspace, on Ray in a temporary one. A job is plain
data (picklable, JSON-able) so it can travel to a Ray worker on another machine.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from amatelier.benchmarks.results import digest_problem, run_result

STDERR_TAIL = 2000


@dataclass(frozen=True)
class Job:
    """Everything one run needs, independent of where it runs."""

    batch_id: str
    key: str
    case: str
    persona_set: str
    topic: str
    briefing_name: str  # file name the briefing is written to / found at
    briefing_text: str
    workers: tuple[str, ...] | None = None
    max_rounds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    """How one run ended: done with a result, or failed with one line saying why."""

    key: str
    ok: bool
    exit_code: int | None
    duration_ms: int
    digest: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    host: str | None = None
    export: dict[str, Any] | None = None  # a Ray run's database rows (benchmarks.merge)


def runner_command(job: Job, briefing_path: str) -> list[str]:
    """The argv of the benchmark runner for this job."""
    cmd = [sys.executable, "-m", "amatelier", "roundtable", "--benchmark",
           "--batch-id", job.batch_id, "--batch-run", job.key, "--persona-set", job.persona_set,
           "--topic", job.topic, "--briefing", briefing_path]
    if job.workers:
        cmd += ["--workers", ",".join(job.workers)]
    if job.max_rounds is not None:
        cmd += ["--max-rounds", str(job.max_rounds)]
    return cmd


def parse_stdout(text: str) -> dict[str, Any] | None:
    """The digest JSON the runner printed (its whole stdout), or None."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        start = text.find("{")
        try:
            data = json.loads(text[start:]) if start >= 0 else None
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def last_line(text: str) -> str:
    """The last non-empty line of a stream (the runner's one-line error), shortened."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def outcome_from(key: str, exit_code: int | None, stdout: str, stderr: str, duration_ms: int,
                 *, host: str | None = None) -> Outcome:
    """Read a finished runner's exit code and output into an Outcome."""
    digest = parse_stdout(stdout)
    problem = digest_problem(digest)
    if problem is None and exit_code == 0:
        result = run_result(digest, duration_ms=duration_ms)
        return Outcome(key=key, ok=True, exit_code=exit_code, duration_ms=duration_ms, digest=digest,
                       result=result, host=host)
    why = last_line(stderr) or problem or f"runner exited with {exit_code}"
    if exit_code is not None and exit_code < 0:
        why = f"runner killed by signal {-exit_code}" + (f": {why}" if why else "")
    return Outcome(key=key, ok=False, exit_code=exit_code, duration_ms=duration_ms, digest=digest, error=why,
                   host=host)
