"""docs/schemas: valid 2020-12 schemas, listed in docs/reference/schemas.md, and an openapi.yaml that
describes exactly the routes `amatelier serve` answers, with the request bodies the server enforces."""

from __future__ import annotations

import json
import re

import pytest
from tests.helpers.schemas import REPO, SCHEMAS, openapi, schema

SCHEMA_FILES = sorted(p.name for p in SCHEMAS.glob("*.schema.json"))
REFERENCE = (REPO / "docs" / "reference" / "schemas.md").read_text(encoding="utf-8")
METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_schema_is_a_valid_2020_12_schema_with_its_version_and_id(name: str) -> None:
    from jsonschema import Draft202012Validator

    doc = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == f"https://amatelier.invalid/schemas/{name}"
    assert "schema_version" in doc, f"{name} says which artefact version it describes"
    assert f"`{name}`" in REFERENCE, f"docs/reference/schemas.md does not list {name}"


def test_the_reference_lists_every_top_level_digest_key() -> None:
    keys = set(schema("digest")["properties"])
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", REFERENCE.split("## The digest's top-level keys", 1)[1],
                            flags=re.MULTILINE))
    assert listed == keys, f"missing: {sorted(keys - listed)}; not in the schema: {sorted(listed - keys)}"


def app_routes() -> set[tuple[str, str]]:
    pytest.importorskip("starlette")
    from amatelier.serve.app import build_app
    from amatelier.serve.jobs import JobManager

    app = build_app(JobManager())
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":           # starlette answers HEAD wherever it answers GET
                found.add((route.path, method.lower()))
    return found


def documented_routes() -> set[tuple[str, str]]:
    return {(path, method) for path, item in openapi()["paths"].items() for method in item if method in METHODS}


def test_openapi_describes_exactly_the_routes_the_app_serves() -> None:
    served = app_routes()
    documented = documented_routes()
    assert served == documented, (f"served but undocumented: {sorted(served - documented)}; "
                                  f"documented but not served: {sorted(documented - served)}")
    assert ("/v1/jobs/{job_id}/say", "post") in served


def test_request_bodies_are_the_schemas_the_server_validates_with() -> None:
    from amatelier.serve.requests import JOB_REQUEST_SCHEMA, SAY_REQUEST_SCHEMA

    components = openapi()["components"]["schemas"]
    assert components["JobRequest"] == json.loads(json.dumps(JOB_REQUEST_SCHEMA))
    assert components["SayRequest"] == json.loads(json.dumps(SAY_REQUEST_SCHEMA))
    bodies = {(path, method): op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
              for path, item in openapi()["paths"].items() for method, op in item.items()
              if method in METHODS and "requestBody" in op}
    assert bodies == {("/v1/jobs", "post"): "#/components/schemas/JobRequest",
                      ("/v1/jobs/{job_id}/say", "post"): "#/components/schemas/SayRequest"}


def test_every_route_documents_the_errors_its_guards_can_answer() -> None:
    """The guard refuses any request to a non-loopback Host (403); with a token every /v1 route may
    answer 401; a JSON body can be malformed (400), too big (413), not JSON (415) or invalid (422)."""
    for path, item in openapi()["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            codes = set(op["responses"])
            expected = {"403"} | ({"401"} if path.startswith("/v1/") else set())
            if "requestBody" in op:
                expected |= {"400", "413", "415", "422"}
            if "{job_id}" in path:
                expected.add("404")
            assert expected <= codes, f"{method.upper()} {path} lacks {sorted(expected - codes)}"


def test_a_job_echoes_its_request_as_the_document_says() -> None:
    from tests.helpers.schemas import openapi_errors

    from amatelier.serve.requests import JOB_REQUEST_SCHEMA, parse_job_request

    every = {"topic": "split?", "briefing": "# b", "workers": ["elena", "marcus"], "max_rounds": 2, "budget": 1,
             "speaker_timeout": 30, "skip_naomi": True, "skip_post": True, "max_cost_usd": 0.5, "max_tokens": 9000,
             "max_minutes": 2.5, "pause_for_human": 10}
    assert set(every) == set(JOB_REQUEST_SCHEMA["properties"])       # the sample uses every field there is
    echoed = parse_job_request(every).public()
    job = {"id": "job-1", "status": "queued", "stage": None, "created_at": "2026-01-01T00:00:00Z", "started_at": None,
           "ended_at": None, "exit_code": None, "error": None, "request": echoed, "roundtable_status": None,
           "usage": {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": None}, "cost_usd": None,
           "links": {"self": "/v1/jobs/job-1", "stream": "/v1/jobs/job-1/stream", "cancel": "/v1/jobs/job-1/cancel"}}
    assert openapi_errors("JobSummary", job) == []
    assert openapi_errors("JobSummary", {**job, "request": {**echoed, "briefing": "# b"}})  # never the text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_metric_that_is_not_a_number_is_recorded_as_null(value: float) -> None:
    from tests.helpers.schemas import assert_valid

    from amatelier.telemetry.events import envelope, metric_payload

    event = envelope("metric", "abc", metric_payload("stability", value, round=2, agent="elena"), stage="debate")
    assert event["payload"]["value"] is None
    json.loads(json.dumps(event, allow_nan=False))       # strict JSON: the line parses everywhere
    assert_valid("telemetry_event", event)
