"""Holes a hostile audit found in this round's commands; each test failed before its fix.

Real `amatelier` subprocesses on the offline backend, real SQLite, real HTTP against a real
`amatelier serve`: the way a user (or an attacker) meets these commands.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import (
    REPO,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    start_cli,
    wait_for,
)
from tests.helpers.serve_server import job_body, sse_frames, start_server

pytestmark = pytest.mark.e2e
DEEP_JSON = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str]:
    """A workspace after one short offline roundtable, and its id (copied by each test)."""
    base = tmp_path_factory.mktemp("audit") / "ws"
    result = run_cli(roundtable_args("audit?", "--workers", "elena,marcus", "--max-rounds", "1", "--skip-post"),
                     rt_env(base))
    assert result.returncode == 0, result.stderr
    return base, json.loads(result.stdout)["rt_id"]


@pytest.fixture
def workspace(finished, tmp_path) -> tuple[Path, str]:
    base, rt_id = finished
    copy = tmp_path / "ws"
    shutil.copytree(base, copy)
    return copy, rt_id


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("amatelier: error: "), result.stderr
    return lines[0]


# --------------------------------------------------------------------------- roundtable --resume

def _damage(params: dict, how: str) -> dict:
    if how == "no topic":
        del params["topic"]
    elif how == "workers is text":
        params["workers"] = "elena"
    elif how == "order leaves the workspace":
        params["speaking_order"] = ["../../../tmp/x"]
    elif how == "budgets are a list":
        params["budget_start"] = [1, 2]
    elif how == "models are text":
        params["models"] = {"elena": "gpt"}
    return params


@pytest.mark.parametrize("how", ["no topic", "workers is text", "order leaves the workspace",
                                 "budgets are a list", "models are text"])
def test_resume_of_a_damaged_run_params_row_is_one_line_and_changes_nothing(workspace, how):
    ws, rt_id = workspace
    conn = sqlite3.connect(str(ws / "roundtable-server" / "roundtable.db"))
    params = json.loads(conn.execute("SELECT params FROM run_params WHERE rt_id = ?", (rt_id,)).fetchone()[0])
    conn.execute("UPDATE roundtables SET status = 'cut', cut_reason = 'test' WHERE id = ?", (rt_id,))
    conn.execute("UPDATE run_params SET params = ? WHERE rt_id = ?", (json.dumps(_damage(params, how)), rt_id))
    conn.commit()
    conn.close()
    line = one_line_error(run_cli(["roundtable", "--resume", rt_id], rt_env(ws)))
    assert "saved run parameters are damaged" in line
    assert rows(ws, "SELECT status FROM roundtables WHERE id = ?", rt_id)[0]["status"] == "cut"


@pytest.mark.parametrize("flag", [("--max-tokens", "1" + "0" * 30), ("--max-minutes", "nan"),
                                  ("--max-cost-usd", "inf")])
def test_an_absurd_ceiling_is_one_line_and_opens_no_roundtable(tmp_path, flag):
    result = run_cli(roundtable_args("ceilings?", "--workers", "elena", "--max-rounds", "1", "--skip-post", *flag),
                     rt_env(tmp_path))
    assert flag[0] in one_line_error(result)
    db = tmp_path / "roundtable-server" / "roundtable.db"
    assert not db.exists() or not rows(tmp_path, "SELECT 1 FROM roundtables")


# --------------------------------------------------------------------------- say / watch

def test_say_refuses_terminal_escapes_and_watch_never_prints_them(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="200")
    proc = start_cli(roundtable_args("escapes?", "--workers", "elena,marcus", "--max-rounds", "2",
                                     "--skip-post"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM roundtables WHERE status = 'open'"),
                 what="an open roundtable", timeout=60)
        hostile = "hi \x1b[2J\x1b]0;owned\x07 there\rfake"
        line = one_line_error(run_cli(["say", "--as", "ana", hostile], rt_env(tmp_path)))
        assert "control characters" in line
        assert not rows(tmp_path, "SELECT 1 FROM messages WHERE kind = 'human'")
        # a model (or an old row) that wrote escapes: the plain watcher shows them defused
        rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
        conn = sqlite3.connect(str(tmp_path / "roundtable-server" / "roundtable.db"), timeout=15)
        conn.execute("INSERT INTO messages (rt_id, agent, content, kind, created_at, created_ts)"
                     " VALUES (?, 'elena', ?, 'chat', '2026-01-01T00:00:00Z', 0)", (rt_id, hostile))
        conn.commit()
        conn.close()
        watched = run_cli(["watch", "--once", "--rt", rt_id], rt_env(tmp_path))
        assert watched.returncode == 0, watched.stderr
        assert "owned" in watched.stdout and "\x1b" not in watched.stdout and "\x07" not in watched.stdout
        assert run_cli(["say", "--as", "ana", "plain\r\ntext is fine"], rt_env(tmp_path)).returncode == 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)


def _watch_in_a_terminal(workspace: Path) -> tuple[int, str]:
    """`amatelier watch --once` with a pseudo-terminal as stdout (the colourful renderer)."""
    import sys

    main, secondary = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "amatelier", "watch", "--once"], cwd=str(REPO),
                                env=rt_env(workspace, TERM="xterm-256color", COLUMNS="120"),
                                stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO once the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(60)
    finally:
        os.close(main)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_watch_in_a_terminal_takes_markup_and_escapes_as_plain_text(tmp_path):
    result = run_cli(roundtable_args("[/bold] closing [link=https://example.com]tag", "--workers", "elena",
                                     "--max-rounds", "1", "--skip-post"), rt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    rt_id = json.loads(result.stdout)["rt_id"]
    conn = sqlite3.connect(str(tmp_path / "roundtable-server" / "roundtable.db"), timeout=15)
    conn.execute("INSERT INTO messages (rt_id, agent, content, kind, phase, round, created_at, created_ts)"
                 " VALUES (?, 'elena', ?, 'chat', 'SPEAK', 1, '2026-01-01T00:00:00Z', 0)",
                 (rt_id, "hi \x1b]0;owned\x1b\\ \x1b[2J there"))
    conn.commit()
    conn.close()
    code, shown = _watch_in_a_terminal(tmp_path)
    assert code == 0 and "Traceback" not in shown, shown[-2000:]
    assert "[/bold] closing" in shown and "owned" in shown
    assert "\x1b]0;owned" not in shown and "\x1b[2J" not in shown
    analytics = run_cli(["analytics"], rt_env(tmp_path))
    assert analytics.returncode == 0 and "[/bold] closing" in analytics.stdout, analytics.stderr[-1500:]


# --------------------------------------------------------------------------- deep or damaged files

def test_batch_run_with_a_deeply_nested_suite_json_is_one_line(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "suite.json").write_text(DEEP_JSON)
    line = one_line_error(run_cli(["batch", "run", str(suite)], rt_env(tmp_path / "ws")))
    assert "not valid JSON" in line


def test_batch_run_on_a_damaged_database_stops_before_creating_a_batch(workspace, tmp_path):
    ws, _ = workspace
    db = ws / "roundtable-server" / "roundtable.db"
    os.truncate(db, db.stat().st_size // 2)
    before = db.read_bytes()
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "b.md").write_text("# a briefing\n")
    (suite / "suite.json").write_text(json.dumps({"name": "s", "version": "1", "cases": [
        {"id": "a", "briefing": "b.md", "topic": "t", "workers": ["elena"], "rounds": 1}]}))
    line = one_line_error(run_cli(["batch", "run", str(suite)], rt_env(ws)))
    assert str(db) in line and "damaged" in line
    assert db.read_bytes() == before
    listed = run_cli(["batch", "list", "--json"], rt_env(ws))
    assert listed.returncode == 0 and not json.loads(listed.stdout)


def test_a_deeply_nested_snapshot_or_registry_reads_as_unreadable(workspace):
    ws, _ = workspace
    assert run_cli(["snapshot", "mint", "elena"], rt_env(ws)).returncode == 0
    snap = next((ws / "snapshots" / "elena").glob("seed-*/snapshot-001.json"))
    snap.write_text(DEEP_JSON)
    listed = run_cli(["snapshot", "list", "--json"], rt_env(ws))
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["problem"] == "unreadable"
    assert "cannot read snapshot" in one_line_error(run_cli(["snapshot", "show", "elena", "1"], rt_env(ws)))
    registry = ws / "agents" / ".retired"
    registry.mkdir(parents=True, exist_ok=True)
    (registry / "registry.json").write_text(DEEP_JSON)
    team = run_cli(["team", "list", "--json"], rt_env(ws))
    assert team.returncode == 0 and "Traceback" not in team.stderr, team.stderr


# --------------------------------------------------------------------------- search, reliability

def test_a_huge_search_query_is_refused_at_once(workspace):
    ws, _ = workspace
    query = " OR ".join(["a*"] * 800)  # ~4.8 KB: several seconds of FTS5 work before the cap
    line = one_line_error(run_cli(["search", query], rt_env(ws)))
    assert "at most 2,000" in line
    assert run_cli(["search", " OR ".join(["elena"] * 100)], rt_env(ws)).returncode == 0


CAN_UNSHARE = shutil.which("unshare") is not None and subprocess.run(
    ["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not CAN_UNSHARE, reason="needs user+mount namespaces for a read-only bind mount")
def test_search_and_reliability_read_a_read_only_workspace(workspace):
    ws, _ = workspace
    import sys

    run = " ".join(f'"$1" -m amatelier {args} > {ws}.{name} 2>&1; echo $? >> {ws}.{name};'
                   for name, args in (("search", "search elena --json"), ("rel", "reliability --json")))
    script = f"mount --bind {ws} {ws} && mount -o remount,bind,ro {ws} && cd {REPO} && {run}"
    subprocess.run(["unshare", "-rm", "bash", "-c", script, "x", sys.executable], env=rt_env(ws),
                   check=True, timeout=120)
    for name in ("search", "rel"):
        text = Path(f"{ws}.{name}").read_text()
        assert text.rstrip().endswith("\n0") and "Traceback" not in text, text[-800:]
    assert json.loads(Path(f"{ws}.search").read_text().rstrip()[:-1])["count"] >= 1


# --------------------------------------------------------------------------- export -o

def test_export_into_a_pipe_writes_into_it_and_never_replaces_it(workspace, tmp_path):
    ws, rt_id = workspace
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run_cli(["export", rt_id, "--format", "md", "-o", str(fifo)], rt_env(ws))
    reader.join(30)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the pipe was replaced by a regular file"
    assert got and got[0].startswith(b"# audit?")


@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_export_of_a_damaged_decision_row_falls_back_to_the_positions(workspace, fmt):
    ws, rt_id = workspace
    conn = sqlite3.connect(str(ws / "roundtable-server" / "roundtable.db"))
    conn.execute("UPDATE decisions SET record = ? WHERE rt_id = ?",
                 (json.dumps({"arguments": [{"claim": 1}], "open_questions": [1, {}]}), rt_id))
    conn.commit()
    conn.close()
    result = run_cli(["export", rt_id, "--format", fmt], rt_env(ws))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-1500:]
    assert "the stored decision record is damaged" in result.stdout


# --------------------------------------------------------------------------- serve

def _request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_answers_deep_json_and_a_huge_last_event_id_cleanly(tmp_path):
    ws = tmp_path / "ws"
    server = start_server(ws)
    try:
        status, body = _request(f"{server.url}/v1/jobs", data=DEEP_JSON.encode(),
                                headers={"Content-Type": "application/json"})
        assert status == 400 and "not valid JSON" in json.loads(body)["error"]
        status, body = _request(f"{server.url}/v1/jobs", data=json.dumps(job_body(max_tokens=10**30)).encode(),
                                headers={"Content-Type": "application/json"})
        assert status == 422 and "max_tokens" in json.loads(body)["error"]
        status, body = _request(f"{server.url}/v1/jobs", data=json.dumps(job_body(
            workers=["elena"], max_rounds=1)).encode(), headers={"Content-Type": "application/json"})
        assert status == 202, body
        job_id = json.loads(body)["id"]
        wait_for(lambda: json.loads(_request(f"{server.url}/v1/jobs/{job_id}")[1])["status"] == "done",
                 what="the job to finish", timeout=120)
        # a damaged run manifest and telemetry line never break the listing, the job or its stream
        (ws / "runs" / job_id / "manifest.json").write_text('{"stages": [1, 2]}')
        with open(ws / "runs" / job_id / "telemetry.jsonl", "a", encoding="utf-8") as handle:
            handle.write(DEEP_JSON + "\n")
        for path in ("/v1/jobs", f"/v1/jobs/{job_id}"):
            status, body = _request(server.url + path)
            assert status == 200, body
        for cursor in ("9" * 4000 + "-0", "5-99999999999999999999"):
            req = urllib.request.Request(f"{server.url}/v1/jobs/{job_id}/stream",
                                         headers={"Last-Event-ID": cursor})
            with urllib.request.urlopen(req, timeout=30) as response:
                lines = (raw.decode("utf-8").rstrip("\r\n") for raw in response)
                events = [f["event"] for f in sse_frames(lines)]
            assert events[-1] == "end" and "message" in events, events
    finally:
        server.stop()


# --------------------------------------------------------------------------- briefings from clients

REGISTERS = "# Brief\n\nShould we?\n\n## Steward-Registered Files\n- {entry}\n"


@pytest.mark.parametrize("entry", ["{secret}", "~/.ssh/id_rsa", "../../../../{rel}"])
def test_a_job_briefing_cannot_register_host_files_for_the_steward(tmp_path, entry):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER\n")
    entry = entry.format(secret=secret, rel=str(secret).lstrip("/"))
    server = start_server(tmp_path / "ws")
    try:
        body = job_body(briefing=REGISTERS.format(entry=entry), workers=["elena"], max_rounds=1)
        status, answer = _request(f"{server.url}/v1/jobs", data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"})
        assert status == 422 and "Steward-Registered Files" in json.loads(answer)["error"], answer
        status, answer = _request(f"{server.url}/v1/jobs", data=json.dumps(job_body(
            briefing=REGISTERS.format(entry="notes/*.md"), workers=["elena"], max_rounds=1)).encode(),
            headers={"Content-Type": "application/json"})
        assert status == 202, answer  # a relative registration still runs
    finally:
        server.stop()
    assert len(list((tmp_path / "ws" / "runs").glob("*/briefing.md"))) == 1, "only the relative job was created"


def test_an_mcp_inline_briefing_cannot_register_host_files(tmp_path):
    pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed")
    import anyio
    from tests.helpers.mcp_client import call, session

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER\n")
    workspace = tmp_path / "ws"

    async def scenario():
        async with session(rt_env(workspace)) as client:
            return await call(client, "roundtable_start", topic="t", briefing=REGISTERS.format(entry=secret),
                              workers=["elena"], max_rounds=1, budget=0, skip_post=True)

    is_error, text = anyio.run(scenario)
    assert is_error and "Steward-Registered Files" in str(text), text
    db = workspace / "roundtable-server" / "roundtable.db"
    assert not db.exists() or not rows(workspace, "SELECT 1 FROM roundtables")
    assert not list((workspace / "roundtable-server").glob("mcp-*.md"))


def test_a_suite_briefing_cannot_make_the_steward_read_this_machine(tmp_path):
    import sys

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER\n")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "suite.json").write_text(json.dumps({"name": "s", "version": "1", "cases": [
        {"id": "a", "briefing": "b.md", "topic": "t", "workers": ["elena"], "rounds": 1}]}))
    ws = tmp_path / "ws"
    (suite / "b.md").write_text(REGISTERS.format(entry=secret))
    line = one_line_error(run_cli(["batch", "run", str(suite)], rt_env(ws)))
    assert "registers" in line and str(secret) in line
    # a relative registration resolves in the batch's briefing folder, not where the user stands
    (suite / "b.md").write_text(REGISTERS.format(entry="secret.txt"))
    result = subprocess.run([sys.executable, "-m", "amatelier", "batch", "run", str(suite)], env=rt_env(ws),
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not rows(ws, "SELECT 1 FROM messages WHERE content LIKE '%TOP-SECRET-MARKER%'")


def test_text_from_suites_notes_and_messages_is_never_read_as_rich_markup(workspace, tmp_path):
    ws, rt_id = workspace
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "b.md").write_text("# a briefing\n")
    (suite / "suite.json").write_text(json.dumps({"name": "[/bold] named", "version": "1", "cases": [
        {"id": "a", "kind": "[/x] kind", "briefing": "b.md", "topic": "t", "workers": ["elena"], "rounds": 1}]}))
    ran = run_cli(["batch", "run", str(suite)], rt_env(ws), timeout=300)
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr[-1500:]
    assert "[/x] kind" in ran.stdout
    listed = run_cli(["batch", "list"], rt_env(ws))
    assert listed.returncode == 0 and "[/bold] named" in listed.stdout, listed.stderr[-1500:]
    assert run_cli(["snapshot", "mint", "elena", "--notes", "C:\\x [/bold] y"], rt_env(ws)).returncode == 0
    snaps = run_cli(["snapshot", "list"], rt_env(ws))
    assert snaps.returncode == 0 and "[/bold] y" in snaps.stdout, snaps.stderr[-1500:]
    conn = sqlite3.connect(str(ws / "roundtable-server" / "roundtable.db"), timeout=15)
    conn.execute("INSERT INTO messages (rt_id, agent, content, kind, created_at, created_ts)"
                 " VALUES (?, 'elena', 'the file is C:\\zebrafish [/bold] here', 'chat', '2026-01-01T00:00:00Z', 0)",
                 (rt_id,))
    conn.commit()
    conn.close()
    found = run_cli(["search", "zebrafish"], rt_env(ws))
    assert found.returncode == 0 and "zebrafish [/bold] here" in found.stdout, found.stderr[-1500:]


def test_agent_export_never_replaces_a_pipe_even_with_force(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run_cli(["agent", "export", "elena", "--format", "claude-subagent", "-o", str(fifo), "--force"],
                     rt_env(tmp_path / "ws"))
    assert "not a regular file" in one_line_error(result)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the pipe was replaced by a regular file"
