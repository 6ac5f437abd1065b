"""With --json every error is one JSON object on stderr, same exit code; roundtable has --json."""

from __future__ import annotations

import json

import pytest
from tests.helpers.roundtable_run import roundtable_args, rt_env, run_cli

pytestmark = pytest.mark.e2e


def _json_error(result, code: int = 2) -> dict:
    assert result.returncode == code, result
    assert result.stdout == "" and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    error = json.loads(line)
    assert set(error) == {"error", "code"} and error["code"] == code
    return error


@pytest.mark.parametrize(("args", "needle"), [
    (["sparks", "zed", "--json"], "unknown agent 'zed'"),
    (["sparks", "--limit", "abc", "--json"], "--limit"),
    (["store", "buy", "elena", "no-such-item", "--json"], "no-such-item"),
    (["venture", "list", "--status", "lost", "--json"], "unknown venture status 'lost'"),
    (["roundtable", "--topic", "t", "--briefing", "nope.md", "--json"], "nope.md"),
    (["roundtable", "--topic", "t", "--briefing", "x.md", "--json", "--summary"], "--summary and --json"),
    (["roundtable", "--topic", "t", "--briefing", "x.md", "--max-rounds", "999", "--json"], "--max-rounds"),
])
def test_errors_are_one_json_object(tmp_path, args, needle):
    error = _json_error(run_cli(args, rt_env(tmp_path)))
    assert needle in error["error"]


def test_without_json_the_same_error_is_one_line(tmp_path):
    result = run_cli(["sparks", "zed"], rt_env(tmp_path))
    assert result.returncode == 2 and result.stderr.startswith("amatelier: error: unknown agent 'zed'")


def test_roundtable_json_prints_the_digest(tmp_path):
    result = run_cli(roundtable_args("json?", "--workers", "elena", "--max-rounds", "1", "--skip-post", "--json"),
                     rt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    assert digest["topic"] == "json?" and digest["status"] == "closed"
