"""Must show: one agent's provider answers `429, retry-after: 3600`; the roundtable does not wait.

A 2-worker, 1-round roundtable through the real anthropic SDK pointed at a fake server.
Clare (model haiku) gets `429, retry-after: 3600` on every request: her first call fails at
once (beyond the retry cap, no sleep, no retry), her backend+model is held, and her later
turns are skipped without a request. Elena's first request gets a short 429 and succeeds on
the retry, which the digest counts. Nothing is asserted on wall-clock time: the counters
(requests the server saw, retries, seconds waited, breaker events) prove no sleep happened.
"""

from __future__ import annotations

import json
import threading

import pytest
from tests.helpers.backends_config import FAST_RETRY
from tests.helpers.fake_llm_servers import FakeAnthropic, RecordedRequest, Reply
from tests.helpers.roundtable_run import (
    messages,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    write_config,
)
from tests.helpers.schemas import assert_valid
from tests.helpers.ux_scripted_replies import anthropic_reply, turn_agent

pytestmark = [pytest.mark.e2e, pytest.mark.wire]

# The production cap (30 s): a 3600 s retry-after is far beyond it; a 20 ms one is honoured.
RETRY = {**FAST_RETRY, "max_retry_after_s": 30.0}


def _script(server: FakeAnthropic):
    base = anthropic_reply(server)
    lock = threading.Lock()
    elena_seen = []

    def answer(request: RecordedRequest) -> Reply:
        agent = turn_agent(request)
        if agent == "clare":
            return Reply.error(429, headers={"retry-after": "3600"})
        if agent == "elena":
            with lock:
                elena_seen.append(request)
                first = len(elena_seen) == 1
            if first:
                return Reply.error(429, headers={"retry-after-ms": "20"})
        return base(request)

    return answer


def test_a_long_retry_after_holds_the_agent_instead_of_sleeping(tmp_path):
    with FakeAnthropic() as server:
        server.default = _script(server)
        write_config(tmp_path, {"llm": {"retry": RETRY}})
        env = rt_env(tmp_path, AMATELIER_MODE="anthropic-sdk", ANTHROPIC_API_KEY="sk-ant-fake",
                     ANTHROPIC_BASE_URL=server.url)
        result = run_cli(roundtable_args("rate limits?", "--workers", "elena,clare", "--max-rounds", "1",
                                         "--budget", "1", "--skip-post"), env, timeout=240)
        clare_requests = [r for r in server.api_requests() if turn_agent(r) == "clare"]

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    digest = json.loads(result.stdout)
    assert digest["status"] == "closed"

    # Clare's provider was asked once; her later turns never reached it.
    assert len(clare_requests) == 1
    [breaker] = [e for e in digest["engine"]["events"] if e["event"] == "breaker"]
    assert breaker["agent"] == "clare" and breaker["backend"] == "anthropic-sdk"
    assert breaker["until"] - breaker["at"] >= 3590 and "retry-after" in breaker["reason"]

    usage = digest["llm_usage"]
    clare = usage["by_agent"]["clare"]
    assert clare["calls"] == 1 and clare["errors"] == 1 and clare["held"] >= 1
    assert clare["retries"] == 0 and clare["retry_wait_s"] == 0
    # Elena's short 429 was retried once, waiting its 20 ms: visible, not silent.
    elena = usage["by_agent"]["elena"]
    assert elena["retries"] == 1 and 0 < elena["retry_wait_s"] < 1
    assert usage["retries"] == 1 and usage["retry_wait_s"] < 1  # nobody slept on the 3600 s

    calls = rows(tmp_path, "SELECT agent, role, status, error_kind FROM llm_calls WHERE agent = 'clare' ORDER BY id")
    assert calls[0]["status"] == "error" and calls[0]["error_kind"] == "rate_limit"
    assert all(c["status"] == "held" for c in calls[1:]) and len(calls) >= 2
    silent = [m["content"] for m in messages(tmp_path, digest["rt_id"])
              if m["agent"] == "runner" and "clare did not respond" in m["content"]]
    assert "retry cap" in silent[0]
    assert all("cooling down until" in line for line in silent[1:]) and len(silent) >= 2
    assert digest["final_positions"].get("elena")
    assert_valid("digest", digest)  # the keys this adds are described by the schema
