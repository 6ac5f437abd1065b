"""Run a real `amatelier serve` subprocess on a free port for HTTP and browser tests."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.roundtable_run import AMATELIER, REPO, rt_env

BRIEFING_TEXT = (REPO / "examples" / "briefings" / "hello-world.md").read_text(encoding="utf-8")


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    workspace: Path
    info: dict[str, Any]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def start_server(workspace: Path, *args: str, **env: str) -> Server:
    """`amatelier serve --port 0 --json ...`; returns once it printed where it listens."""
    process = subprocess.Popen([*AMATELIER, "serve", "--port", "0", "--json", *args],
                               env=rt_env(workspace, **env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    line = process.stdout.readline()  # the server prints its startup line before serving
    if not line:
        err = process.stderr.read()
        process.wait(10)
        raise AssertionError(f"amatelier serve did not start (exit {process.returncode}): {err}")
    info = json.loads(line)
    return Server(process=process, url=info["url"].rstrip("/"), workspace=workspace, info=info)


def job_body(**overrides: Any) -> dict[str, Any]:
    """A small, quick offline job."""
    body = {"topic": "split the monolith?", "briefing": BRIEFING_TEXT, "workers": ["elena", "marcus"],
            "max_rounds": 2, "budget": 1, "skip_post": True}
    body.update(overrides)
    return body


def sse_frames(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse an SSE line iterator into {id, event, data} frames (data decoded from JSON)."""
    current: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if "event" in current:
                yield current
            current = {}
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(": ")
            if key == "data":
                current["data"] = json.loads(value)
            elif key in ("id", "event"):
                current[key] = value
