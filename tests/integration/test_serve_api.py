"""The jobs API over real HTTP against a running `amatelier serve` (offline roundtables)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from tests.helpers.roundtable_run import AMATELIER, REPO, rows, rt_env, wait_for
from tests.helpers.schemas import assert_valid, openapi_errors
from tests.helpers.serve_server import job_body, sse_frames, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path):
    running = start_server(tmp_path / "ws")
    yield running
    running.stop()


def stream_all(client: httpx.Client, job_id: str, last_event_id: str | None = None) -> list[dict]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with client.stream("GET", f"/v1/jobs/{job_id}/stream", headers=headers, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = []
        for frame in sse_frames(response.iter_lines()):
            frames.append(frame)
            if frame["event"] == "end":
                break
    return frames


def test_submit_stream_until_done_then_the_job_shows_the_digest(server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        created = client.post("/v1/jobs", json=job_body())
        assert created.status_code == 202, created.text
        job = created.json()
        assert not openapi_errors("JobSummary", job)
        job_id = job["id"]
        assert job["status"] in ("queued", "running") and created.headers["location"] == f"/v1/jobs/{job_id}"

        frames = stream_all(client, job_id)
        assert frames[-1]["event"] == "end" and frames[-1]["data"]["status"] == "done"
        kinds = [f["event"] for f in frames]
        assert "message" in kinds and "telemetry" in kinds and "job" in kinds
        speeches = [f["data"] for f in frames if f["event"] == "message" and f["data"]["kind"] == "speech"]
        assert {m["agent"] for m in speeches} == {"elena", "marcus"}
        telemetry = [f["data"] for f in frames if f["event"] == "telemetry"]
        for event in telemetry:
            assert_valid("telemetry_event", event)
        for each in frames:     # every frame's data is described in openapi.yaml
            component = {"message": "StreamMessage", "job": "JobStatusFrame", "end": "JobStatusFrame"}.get(each["event"])
            assert component is None or not openapi_errors(component, each["data"]), each
        names = [e["event_name"] for e in telemetry]
        assert "turn" in names and "llm_call" in names
        assert {e["payload"]["name"] for e in telemetry if e["event_name"] == "stage_start"} >= {"debate", "scoring"}
        ids = [f["id"] for f in frames if "id" in f]
        assert ids == sorted(ids, key=lambda v: tuple(int(x) for x in v.split("-")))  # cursors only move forward

        shown = client.get(f"/v1/jobs/{job_id}").json()
        assert shown["status"] == "done" and shown["exit_code"] == 0
        assert not openapi_errors("Job", shown)
        assert shown["digest"]["rt_id"] == job_id
        assert_valid("digest", shown["digest"])
        assert shown["usage"]["calls"] == shown["digest"]["llm_usage"]["calls"]
        listed = client.get("/v1/jobs").json()["jobs"]
        assert [j["id"] for j in listed] == [job_id] and not openapi_errors("JobList", {"jobs": listed})

        # resuming with Last-Event-ID gives exactly what came after that frame
        content = [f for f in frames if f["event"] in ("message", "telemetry")]
        middle = content[len(content) // 2]
        resumed = [f for f in stream_all(client, job_id, middle["id"]) if f["event"] in ("message", "telemetry")]
        assert [f["id"] for f in resumed] == [f["id"] for f in content[len(content) // 2 + 1:]]
        assert resumed[0]["data"] == content[len(content) // 2 + 1]["data"]


def test_cancel_a_running_job_and_a_queued_one(tmp_path: Path) -> None:
    server = start_server(tmp_path / "ws", "--max-jobs", "1", AMATELIER_OFFLINE_DELAY_MS="300")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            first = client.post("/v1/jobs", json=job_body(max_rounds=3)).json()
            second = client.post("/v1/jobs", json=job_body()).json()
            assert first["status"] == "running" and second["status"] == "queued"
            wait_for(lambda: rows(server.workspace, "SELECT id FROM messages WHERE rt_id = ? AND kind = 'speech'",
                                  first["id"]), 60, "the first speech")
            cancelled = client.post(f"/v1/jobs/{second['id']}/cancel")
            assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
            assert client.post(f"/v1/jobs/{first['id']}/cancel").status_code == 202
            done = wait_for(lambda: (lambda j: j if j["status"] == "cancelled" else None)(
                client.get(f"/v1/jobs/{first['id']}").json()), 60, "the cancel to land")
            assert done["roundtable_status"] == "cut"
            (row,) = rows(server.workspace, "SELECT status, cut_reason FROM roundtables WHERE id = ?", first["id"])
            assert row == {"status": "cut", "cut_reason": "cancelled through the jobs API"}
            assert done["digest"]["status"] == "cut"            # the transcript and digest are kept
            # the queued job never ran a roundtable
            assert not rows(server.workspace, "SELECT id FROM roundtables WHERE id = ?", second["id"])
            again = client.post(f"/v1/jobs/{first['id']}/cancel")
            assert again.status_code == 409 and again.json()["code"] == 409
            end = stream_all(client, first["id"])[-1]
            assert end["event"] == "end" and end["data"]["status"] == "cancelled"
    finally:
        server.stop()


@pytest.mark.parametrize("send, status, words", [
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
    ({"json": {"topic": "t"}}, 422, "'briefing' is a required property"),
    ({"json": {**job_body(), "max_rounds": 0}}, 422, "max_rounds"),
    ({"json": {**job_body(), "workers": ["elena", "nobody"]}}, 422, "unknown worker 'nobody'"),
    ({"json": {**job_body(), "rounds": 2}}, 422, "'rounds' was unexpected"),
    ({"content": b"topic=t", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415, "JSON"),
    ({"json": job_body(), "headers": {"origin": "http://evil.example"}}, 403, "cross-origin"),
    ({"json": job_body(), "headers": {"host": "evil.example"}}, 403, "loopback"),
])
def test_bad_requests_get_4xx_json_errors_and_start_nothing(server, send, status, words) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/v1/jobs", **send)
        assert response.status_code == status, response.text
        body = response.json()
        assert body["code"] == status and words in body["error"]
        assert not openapi_errors("Error", body)
        assert client.get("/v1/jobs").json()["jobs"] == []


def test_unknown_jobs_and_routes_are_json_404s(server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, path in (("GET", "/v1/jobs/deadbeef"), ("GET", "/v1/jobs/deadbeef/stream"),
                             ("POST", "/v1/jobs/deadbeef/cancel"), ("GET", "/v1/jobs/..%2F..%2Fetc"),
                             ("GET", "/v2/nothing")):
            response = client.request(method, path)
            assert response.status_code == 404 and response.json()["code"] == 404, path
        assert client.get("/v1/jobs?limit=x").status_code == 400
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text
        assert "http://" not in page.text.replace("http://www.w3.org", "")  # self-contained: no CDN


def test_non_loopback_bind_needs_a_token_and_then_bearer_auth(tmp_path: Path) -> None:
    refused = subprocess.run([*AMATELIER, "serve", "--host", "0.0.0.0", "--port", "0"],
                             env=rt_env(tmp_path / "ws"), capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert refused.returncode == 2 and "AMATELIER_SERVE_TOKEN" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    token = "a-long-enough-test-token-123"
    server = start_server(tmp_path / "ws", "--host", "0.0.0.0", AMATELIER_SERVE_TOKEN=token)
    try:
        assert server.info["auth"] is True and server.info["loopback"] is False
        url = f"http://127.0.0.1:{server.info['port']}"
        with httpx.Client(base_url=url, timeout=30) as client:
            missing = client.get("/v1/jobs")
            assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
            assert client.get("/v1/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.post("/v1/jobs", json=job_body()).status_code == 401
            ok = client.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and ok.json() == {"jobs": []}
    finally:
        server.stop()


def test_oversized_bodies_and_corrupt_job_records(server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        big = client.post("/v1/jobs", content=b"{" + b" " * 1_000_001 + b"}",
                          headers={"content-type": "application/json"})
        assert big.status_code == 413 and big.json()["code"] == 413
        record = server.workspace / "runs" / "c0ffee00" / "job.json"
        record.parent.mkdir(parents=True)
        record.write_text('{"id": "c0ffee00", "status": ', encoding="utf-8")   # torn or hand-edited
        assert client.get("/v1/jobs/c0ffee00").status_code == 404
        assert client.get("/v1/jobs").json() == {"jobs": []}


def test_a_job_outlives_its_server_and_the_next_server_settles_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first = start_server(ws, AMATELIER_OFFLINE_DELAY_MS="100")
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            job = client.post("/v1/jobs", json=job_body()).json()
            wait_for(lambda: rows(ws, "SELECT id FROM messages WHERE rt_id = ? AND kind = 'speech'", job["id"]),
                     60, "the first speech")
    finally:
        first.stop()                                     # the runner is in its own session: it goes on
    second = start_server(ws)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            assert client.get(f"/v1/jobs/{job['id']}").json()["status"] in ("running", "done")
            done = wait_for(lambda: (lambda j: j if j["status"] != "running" else None)(
                client.get(f"/v1/jobs/{job['id']}").json()), 90, "the runner to finish")
            assert done["status"] == "done" and done["digest"]["status"] == "closed"
            assert [j["id"] for j in client.get("/v1/jobs").json()["jobs"]] == [job["id"]]
    finally:
        second.stop()


def test_a_person_speaks_into_a_running_job(tmp_path: Path) -> None:
    server = start_server(tmp_path / "ws", AMATELIER_OFFLINE_DELAY_MS="200")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            job = client.post("/v1/jobs", json=job_body(max_rounds=2)).json()
            wait_for(lambda: rows(server.workspace, "SELECT 1 FROM messages WHERE rt_id = ? AND kind = 'speech'",
                                  job["id"]), 60, "the first speech")
            for body, status in (({"text": "hi", "name": "elena"}, 422),      # an agent's name is not yours
                                 ({"text": ""}, 422), ({"words": "hi"}, 422)):
                refused = client.post(f"/v1/jobs/{job['id']}/say", json=body)
                assert refused.status_code == status and refused.json()["code"] == status
            said = client.post(f"/v1/jobs/{job['id']}/say", json={"text": "we tried Kafka in 2023", "name": "priya"})
            assert said.status_code == 201, said.text
            assert not openapi_errors("Said", said.json()) and said.json()["name"] == "priya"
            frames = stream_all(client, job["id"])
            human = [f["data"] for f in frames if f["event"] == "message" and f["data"]["kind"] == "human"]
            assert [(m["agent"], m["content"]) for m in human] == [("priya", "we tried Kafka in 2023")]
            late = client.post(f"/v1/jobs/{job['id']}/say", json={"text": "too late"})
            assert late.status_code == 409 and "not running" in late.json()["error"]
            assert client.post("/v1/jobs/deadbeef/say", json={"text": "x"}).status_code == 404
    finally:
        server.stop()
