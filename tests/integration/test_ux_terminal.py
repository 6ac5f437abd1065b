"""The roundtable in a real terminal (a pseudo-terminal): progress line, Ctrl-C, and a watch
started before any roundtable exists."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest
from tests.helpers.roundtable_run import (
    AMATELIER,
    REPO,
    processes_with_args,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    wait_for,
)

pytestmark = pytest.mark.e2e
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """A command running with a pseudo-terminal as its controlling terminal (stdin/out/err)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        env = dict(env, TERM="xterm-256color", COLUMNS="120", LINES="40")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: exec the CLI; the pty is its terminal
            os.chdir(str(REPO))
            os.execvpe(AMATELIER[0], [*AMATELIER, *args], env)
        self.raw = b""

    def read_available(self, timeout: float = 0.1) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            self.raw += chunk
            timeout = 0.0

    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def press_ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")  # the terminal turns it into SIGINT for the foreground group

    def wait(self, timeout: float = 120) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read_available(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.read_available(0.05)
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"timed out; output so far:\n{self.text()[-2000:]}")


def _worker_pids(rt_id: str) -> list[int]:
    return processes_with_args("amatelier.engine.worker", rt_id)


def test_progress_line_in_a_terminal_then_a_clean_summary(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="60")
    term = Terminal(roundtable_args("split the monolith?", "--workers", "elena,marcus", "--max-rounds", "2",
                                    "--skip-post", "--summary"), env)
    code = term.wait()
    out = term.text()
    assert code == 0, out[-2000:]
    rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
    assert f"follow it live with amatelier watch --rt {rt_id}" in out
    assert re.search(rf"{rt_id} · round 1/2 · (SPEAK|REBUTTAL) · (elena|marcus) is speaking…", out)
    summary = out[out.rindex("TOPIC: split the monolith?"):]
    # The progress line was cleared before the summary: nothing of it inside the summary.
    assert "is speaking" not in summary and "elapsed" not in summary
    assert f"RT: {rt_id}" in summary and "DIGEST:" in summary


def test_ctrl_c_in_the_terminal_cuts_the_roundtable_and_stops_every_worker(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="400")
    term = Terminal(roundtable_args("split the monolith?", "--workers", "elena,marcus,clare", "--summary"), env)
    rt_id = wait_for(lambda: (term.read_available(0.01), rows(tmp_path, "SELECT id FROM roundtables"))[1],
                     what="the roundtable row")[0]["id"]
    wait_for(lambda: (term.read_available(0.01),
                      rows(tmp_path, "SELECT 1 FROM messages WHERE kind = 'speech'"))[1], what="a first speech")
    assert len(_worker_pids(rt_id)) == 4  # three workers and the Judge
    term.press_ctrl_c()
    code = term.wait()
    out = term.text()
    assert code == 1, out[-2000:]
    assert f"amatelier: roundtable {rt_id} was cut (keyboard interrupt); every worker was stopped" in out
    assert "Traceback" not in out
    assert rows(tmp_path, "SELECT status, cut_reason FROM roundtables")[0] == \
        {"status": "cut", "cut_reason": "keyboard interrupt"}
    assert wait_for(lambda: not _worker_pids(rt_id), timeout=10, what="no worker left")


def test_watch_started_first_waits_for_the_roundtable_then_follows_it(tmp_path):
    env = rt_env(tmp_path)
    watcher = subprocess.Popen([*AMATELIER, "watch"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=str(REPO))
    try:
        first = watcher.stdout.readline()
        assert first.startswith("no roundtable is running") and "waiting for one to start" in first
        assert not (tmp_path / "roundtable-server").exists()  # watching never creates anything
        result = run_cli(roundtable_args("late start", "--workers", "elena,marcus", "--max-rounds", "1",
                                         "--skip-post"), env)
        assert result.returncode == 0, result.stderr
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("roundtable ") and "late start" in lines[0]
    assert "[runner] BRIEFING" in out  # shown from its first message
    assert re.search(r"— roundtable closed \((converged in round 1|no convergence after 1 round\(s\))\)\n"
                     r"cost: \$0\.0000 spent$", out.rstrip())  # offline calls cost nothing, and say so
