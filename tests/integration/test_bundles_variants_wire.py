"""An installed agent speaks with the persona variant for the model it runs on.

The real openai SDK in every worker talks to a fake Chat Completions server; the role
token `sonnet` resolves to gpt-4o there, so the installed agent's gpt-4o variant must be
the system prompt it sends, while the bundled agents keep their own personas.
"""

from __future__ import annotations

import json
import re

import pytest
from tests.helpers.bundles_cli import ok_json
from tests.helpers.roundtable_run import roundtable_args, rt_env, run_cli, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.wire]

fake = pytest.importorskip("tests.helpers.fake_llm_servers")
MARKER = "You speak as the GPT-4o variant of this agent."


def _answer(request):
    prompt = request.user_text()
    phase = (re.search(r"^PHASE: (\w+)$", prompt, re.M) or [None, ""])[1]
    text = {"GATE": "CONVERGED: done", "FLOOR": "PASS"}.get(phase, "a point, made concretely")
    body = request.json or {}
    return fake.Reply.json(fake.openai_chat_completion(text, model=body.get("model", "?")))


def test_the_worker_uses_the_variant_for_its_model(tmp_path):
    author = tmp_path / "author"
    made = ok_json(author, "manifest", "elena", "--model", "claude-sonnet-5-5", "--model", "gpt-4o",
                   "--variant-files")
    variant = author / "agents" / "elena" / "variants" / "gpt-4o" / "CLAUDE.md"
    variant.write_text(MARKER + "\n\n" + variant.read_text(), encoding="utf-8")
    assert made["manifest"]["base_models"][1]["persona"]["claude_md"] == "variants/gpt-4o/CLAUDE.md"
    package = ok_json(author, "pack", "elena", "--model", "gpt-4o", "-o", str(tmp_path / "out"))["path"]

    workspace = tmp_path / "wire"
    ok_json(workspace, "install", package, "--as", "nora", "--allow-unsigned")
    with fake.FakeOpenAI() as server:
        server.default = _answer
        write_config(workspace, {"llm": {"mode": "openai-compat", "openai_compat": {
            "base_url": server.base_url, "api_key_env": "RT_FAKE_KEY"}}})
        env = rt_env(workspace, AMATELIER_MODE="openai-compat", RT_FAKE_KEY="sk-fake")
        result = run_cli(roundtable_args("wire", "--workers", "nora,clare", "--max-rounds", "2",
                                         "--skip-post"), env)
        assert result.returncode == 0, result.stderr
        requests = server.api_requests()
    digest = json.loads(result.stdout)
    assert digest["worker_models"]["nora"]["model"] == "gpt-4o"

    def systems(agent: str) -> list[str]:
        found = []
        for request in requests:
            messages = request.json["messages"]
            if re.search(rf"^AGENT: {agent}$", messages[-1]["content"], re.M):
                found.append(messages[0]["content"])
        return found

    assert systems("nora") and all(s.startswith(MARKER) for s in systems("nora"))
    assert systems("clare") and not any(MARKER in s for s in systems("clare"))
