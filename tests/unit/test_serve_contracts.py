"""The jobs API's contracts without a server: request validation, openapi.yaml, the bind rules."""

from __future__ import annotations

import json

import pytest
from tests.helpers.schemas import openapi, openapi_errors

from amatelier.serve import server
from amatelier.serve.requests import (
    JOB_REQUEST_SCHEMA,
    BadRequest,
    decode_body,
    parse_job_request,
    runner_args,
)
from amatelier.serve.stream import Cursor, frame


def test_openapi_parses_and_describes_the_five_job_routes() -> None:
    doc = openapi()
    assert doc["openapi"].startswith("3.1")
    routes = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert {("/v1/jobs", "post"), ("/v1/jobs", "get"), ("/v1/jobs/{job_id}", "get"),
            ("/v1/jobs/{job_id}/stream", "get"), ("/v1/jobs/{job_id}/cancel", "post")} <= routes
    # the request schema the server enforces is the one the document publishes
    assert doc["components"]["schemas"]["JobRequest"] == json.loads(json.dumps(JOB_REQUEST_SCHEMA))
    assert doc["paths"]["/v1/jobs"]["post"]["responses"]["202"]


def test_a_full_request_maps_to_the_runner_flags() -> None:
    job = parse_job_request({"topic": "  split? ", "briefing": "# b", "workers": ["elena", "marcus"],
                             "max_rounds": 2, "budget": 0, "skip_post": True, "speaker_timeout": 30,
                             "max_cost_usd": 0.5})
    args = runner_args(job, "/ws/runs/x/briefing.md", "abcd1234")
    assert args[:9] == ["roundtable", "--topic", "split?", "--briefing", "/ws/runs/x/briefing.md", "--rt-id",
                        "abcd1234", "--summary", "--workers"]
    assert args[9] == "elena,marcus"
    for flag, value in (("--max-rounds", "2"), ("--budget", "0"), ("--speaker-timeout", "30"),
                        ("--max-cost-usd", "0.5")):
        assert args[args.index(flag) + 1] == value
    assert "--skip-post" in args and "--skip-naomi" not in args
    assert job.public()["briefing_chars"] == 3 and "briefing" not in job.public()


@pytest.mark.parametrize("body, words", [
    ({"briefing": "b"}, "'topic' is a required property"),
    ({"topic": "t", "briefing": "   "}, "briefing"),
    ({"topic": "t", "briefing": "b", "max_rounds": "3"}, "max_rounds"),
    ({"topic": "t", "briefing": "b", "max_rounds": 0}, "max_rounds"),
    ({"topic": "t", "briefing": "b", "workers": ["../../etc"]}, "workers.0"),
    ({"topic": "t", "briefing": "b", "workers": []}, "workers"),
    ({"topic": "t", "briefing": "b", "rounds": 3}, "'rounds' was unexpected"),
    ({"topic": "t", "briefing": "b", "skip_post": "yes"}, "skip_post"),
    (["topic"], "is not of type 'object'"),
])
def test_malformed_requests_are_refused_with_the_field_named(body, words) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_job_request(body)
    assert caught.value.status == 422 and words in str(caught.value)


def test_bodies_that_are_not_json_or_too_big() -> None:
    for raw, status in ((b"{not json", 400), (b"", 400), (b"x" * 1_000_001, 413)):
        with pytest.raises(BadRequest) as caught:
            decode_body(raw)
        assert caught.value.status == status


def test_non_loopback_binds_need_a_long_token() -> None:
    assert server.check_bind("127.0.0.1", None) is True
    assert server.check_bind("localhost", None) is True
    assert server.check_bind("::1", None) is True
    with pytest.raises(server.ServeError, match="AMATELIER_SERVE_TOKEN"):
        server.check_bind("0.0.0.0", None)
    with pytest.raises(server.ServeError, match="too short"):
        server.check_bind("0.0.0.0", "short")
    assert server.check_bind("0.0.0.0", "a-long-enough-secret-token") is False


def test_stream_cursor_round_trips_and_garbage_restarts() -> None:
    assert Cursor.parse(Cursor(120, 7).token()) == Cursor(120, 7)
    for junk in (None, "", "abc", "1-x", "-5--3", "9" * 5):
        assert Cursor.parse(junk) in (Cursor(), Cursor(0, 0))
    text = frame("message", {"content": "two\nlines"}, "3-4").decode()
    assert text.endswith("\n\n") and text.count("\n") == 4 and "id: 3-4" in text


def test_error_bodies_match_the_published_error_schema() -> None:
    assert not openapi_errors("Error", {"error": "no job with id x", "code": 404})
    assert openapi_errors("Error", {"error": "x"})


@pytest.mark.parametrize("topic", ["line one\nline two", "nul\x00byte", "bell\x07", "esc\x1b[31m"])
def test_topics_with_control_characters_are_refused(topic: str) -> None:
    with pytest.raises(BadRequest, match="control characters"):
        parse_job_request({"topic": topic, "briefing": "b"})
    assert parse_job_request({"topic": "tabs\tare fine", "briefing": "b\x01 is only text"}).topic


def test_the_queue_is_bounded(tmp_path, monkeypatch) -> None:
    from amatelier.serve.jobs import JobManager

    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    with pytest.raises(BadRequest) as caught:
        JobManager(max_queued=0).submit(parse_job_request({"topic": "t", "briefing": "b"}))
    assert caught.value.status == 429
    assert not (tmp_path / "ws" / "runs").exists()          # nothing written for a refused job


def test_a_workspace_that_cannot_be_written_refuses_the_job_cleanly(tmp_path, monkeypatch) -> None:
    from amatelier.serve.jobs import JobManager

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "runs").write_text("a file where the runs directory should be", encoding="utf-8")
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(ws))
    with pytest.raises(BadRequest) as caught:
        JobManager().submit(parse_job_request({"topic": "t", "briefing": "b"}))
    assert caught.value.status == 507 and "cannot write the job" in str(caught.value)
