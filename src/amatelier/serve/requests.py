"""What a client may ask for in `POST /v1/jobs`, validated with jsonschema before anything runs.

The body's fields are the `amatelier roundtable` flags in snake_case; `briefing` is the briefing's
markdown text (the server writes it to a file under the workspace). Unknown fields are refused, so
a typo never silently runs a different roundtable. openapi.yaml's JobRequest is this schema.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from amatelier.briefing_format import entries_outside

MAX_BODY_BYTES = 1_000_000
MAX_BRIEFING_CHARS = 200_000
MAX_CEILING = 2**53  # what the runner accepts for --max-cost-usd/--max-tokens/--max-minutes
AGENT_NAME = "^[a-z][a-z0-9_-]{0,31}$"
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a topic is one line of text (tabs allowed)

JOB_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["topic", "briefing"],
    "properties": {
        "topic": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": "\\S",
                  "description": "the question the roundtable debates"},
        "briefing": {"type": "string", "minLength": 1, "maxLength": MAX_BRIEFING_CHARS, "pattern": "\\S",
                     "description": "the briefing as markdown text"},
        "workers": {"type": "array", "minItems": 1, "maxItems": 20, "uniqueItems": True,
                    "items": {"type": "string", "pattern": AGENT_NAME},
                    "description": "agents to seat (default: config team.default_workers plus naomi)"},
        "max_rounds": {"type": "integer", "minimum": 1, "maximum": 100},
        "budget": {"type": "integer", "minimum": 0, "maximum": 1000,
                   "description": "floor contributions per agent"},
        "speaker_timeout": {"type": "integer", "minimum": 1, "maximum": 86400,
                            "description": "seconds a speaker gets before 'did not respond'"},
        "skip_naomi": {"type": "boolean"},
        "skip_post": {"type": "boolean"},
        "max_cost_usd": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_CEILING,
                         "description": "cost ceiling (passed as --max-cost-usd)"},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": MAX_CEILING, "description": "token ceiling (--max-tokens)"},
        "max_minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_CEILING, "description": "time ceiling (--max-minutes)"},
        "pause_for_human": {"type": "number", "minimum": 0, "maximum": 3600,
                            "description": "after each Judge gate, wait up to this many seconds for a person "
                                           "to speak (POST /v1/jobs/{id}/say)"},
    },
}

SAY_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 4000,
                 "description": "what the person says (shown to every agent in its next prompt; never scored)"},
        "name": {"type": "string", "minLength": 1, "maxLength": 32,
                 "description": "who says it (lower-case; default guest)"},
    },
}

#: snake_case field → the runner's flag, for the options passed through as they are.
FLAGS = {"max_rounds": "--max-rounds", "budget": "--budget", "speaker_timeout": "--speaker-timeout",
         "max_cost_usd": "--max-cost-usd", "max_tokens": "--max-tokens", "max_minutes": "--max-minutes",
         "pause_for_human": "--pause-for-human"}
SWITCHES = {"skip_naomi": "--skip-naomi", "skip_post": "--skip-post"}


class BadRequest(ValueError):
    """The request is malformed; `status` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class JobRequest:
    """A validated job request."""

    topic: str
    briefing: str
    options: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The request as shown back to clients (the briefing's size, not its text)."""
        return {"topic": self.topic, "briefing_chars": len(self.briefing), **self.options}


def decode_body(raw: bytes) -> Any:
    """JSON from the request body (BadRequest 400 when it is not JSON, 413 when too big)."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"request body is larger than {MAX_BODY_BYTES} bytes", 413)
    if not raw.strip():
        raise BadRequest("request body is empty: send a JSON object with topic and briefing", 400)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", 400) from None


def parse_job_request(body: Any) -> JobRequest:
    """Validate a decoded body against JOB_REQUEST_SCHEMA; BadRequest (422) names the first problem."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(JOB_REQUEST_SCHEMA)
    problems = sorted(validator.iter_errors(body), key=lambda e: (list(e.absolute_path), e.message))
    if problems:
        first = problems[0]
        where = ".".join(str(p) for p in first.absolute_path)
        raise BadRequest(f"{where}: {first.message}" if where else first.message, 422)
    if CONTROL.search(body["topic"]):
        raise BadRequest("topic: control characters are not allowed", 422)
    if "\x00" in body["briefing"]:
        raise BadRequest("briefing: NUL characters are not allowed", 422)
    outside = entries_outside(body["briefing"])
    if outside:
        raise BadRequest(f"briefing: the Steward-Registered Files section names {outside[0]!r}, outside the "
                         "job's directory; a job's briefing may register only relative paths without '..'", 422)
    options = {k: v for k, v in body.items() if k not in ("topic", "briefing")}
    return JobRequest(topic=body["topic"].strip(), briefing=body["briefing"], options=options)


def parse_say_request(body: Any) -> tuple[str, str]:
    """(text, name) from a decoded `say` body; BadRequest (422) names the first problem."""
    from jsonschema import Draft202012Validator

    problems = sorted(Draft202012Validator(SAY_REQUEST_SCHEMA).iter_errors(body),
                      key=lambda e: (list(e.absolute_path), e.message))
    if problems:
        where = ".".join(str(p) for p in problems[0].absolute_path)
        raise BadRequest(f"{where}: {problems[0].message}" if where else problems[0].message, 422)
    return body["text"], body.get("name") or "guest"


def runner_args(request: JobRequest, briefing_path: str, rt_id: str) -> list[str]:
    """The `amatelier roundtable ...` arguments (after `-m amatelier`) for a job."""
    args = ["roundtable", "--topic", request.topic, "--briefing", briefing_path, "--rt-id", rt_id, "--summary"]
    options = request.options
    if options.get("workers"):
        args += ["--workers", ",".join(options["workers"])]
    for key, flag in FLAGS.items():
        if options.get(key) is not None:
            args += [flag, str(options[key])]
    for key, flag in SWITCHES.items():
        if options.get(key):
            args.append(flag)
    return args
