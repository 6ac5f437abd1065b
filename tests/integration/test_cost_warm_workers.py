"""Warm workers: forked from a fork server that imported the SDK once; still separate processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amatelier.debate.warm import WarmStarter, preload_modules, warm_available

pytestmark = pytest.mark.skipif(not warm_available(), reason="needs a POSIX fork server")


def wait_for(path: Path, timeout: float = 30.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def test_preload_lists_the_worker_and_each_backends_sdk_once() -> None:
    modules = preload_modules(["anthropic-sdk", "gemini", "anthropic-sdk", "claude-code"], "w.mod")
    assert modules[0] == "w.mod"
    assert modules.count("anthropic") == 1 and "google.genai" in modules and "openai" not in modules


def test_forked_workers_are_own_sessions_with_the_sdk_already_imported(tmp_path: Path) -> None:
    starter = WarmStarter(["anthropic-sdk"], worker_module="tests.helpers.warm_probe")
    starter.start()
    procs = []
    for index, code in enumerate((0, 7)):
        out = tmp_path / f"report{index}.json"
        procs.append((starter.launch(["--out", str(out), "--code", str(code)], tmp_path / f"w{index}.log",
                                     env={"WARM_PROBE_MARKER": f"m{index}"}), out, code))
    for proc, out, code in procs:
        assert proc.wait(timeout=60) == code
        report = wait_for(out)
        assert report["pid"] == proc.pid != os.getpid()
        assert report["sid"] == proc.pid  # its own session: the pool stops its whole group
        assert report["ppid"] != os.getpid()  # forked by the server, not by this process
        assert {"amatelier.llm_backend", "anthropic"} <= set(report["preloaded"])  # imported once, here
        assert report["marker"] == f"m{procs.index((proc, out, code))}"
    log = (tmp_path / "w0.log").read_text()
    assert f"probe says hello from {procs[0][0].pid}" in log


def test_a_forked_worker_is_stopped_through_its_process_group(tmp_path: Path) -> None:
    starter = WarmStarter([], worker_module="tests.helpers.warm_probe")
    out = tmp_path / "hang.json"
    proc = starter.launch(["--out", str(out), "--hang"], tmp_path / "hang.log")
    wait_for(out)
    assert proc.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.send_signal(signal.SIGTERM)  # already gone: no error


# Run from a process whose own argv area is as long as a real runner's (`python -m amatelier
# roundtable --topic ... --briefing ...`): the title is written into that area, so how much of
# it fits depends on the launching process, not on how pytest happened to be started.
TITLE_PROBE = """
import json, os, signal, sys, time
from pathlib import Path
from amatelier.debate.warm import WarmStarter
out, log = Path(sys.argv[1]), Path(sys.argv[2])
starter = WarmStarter([], worker_module="tests.helpers.warm_probe")
proc = starter.launch(["--out", str(out), "--hang", "--agent", "elena"], log)
end = time.monotonic() + 30
while not (out.exists() and out.stat().st_size) and time.monotonic() < end:
    time.sleep(0.02)
try:
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\\0")
    comm = Path(f"/proc/{proc.pid}/comm").read_text().strip()
    print(json.dumps({"cmdline": [c.decode() for c in cmdline], "comm": comm}))
finally:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    starter.close()
"""


def test_a_forked_worker_shows_its_own_command_line(tmp_path: Path) -> None:
    padding = ["--topic", "x" * 120, "--briefing", "y" * 120]  # a runner's usual argv length
    done = subprocess.run([sys.executable, "-c", TITLE_PROBE, str(tmp_path / "title.json"),
                           str(tmp_path / "t.log"), *padding], capture_output=True, text=True, timeout=120,
                          cwd=str(Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["cmdline"][1:3] == ["-m", "tests.helpers.warm_probe"]
    assert "--agent" in seen["cmdline"] and "elena" in seen["cmdline"]
    assert seen["comm"] == "amtl-elena"
