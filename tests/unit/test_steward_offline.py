"""The offline backend's Steward answers: the research turn and the Steward model role."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.steward_tree import make_tree

from amatelier.backends.offline import OfflineBackend
from amatelier.debate.steward_turns import research_instructions
from amatelier.offline.request import OfflineRequest
from amatelier.offline.steward import registered_from_prompt, respond
from amatelier.steward.lookups import try_deterministic
from amatelier.steward.requests import parse_requests
from amatelier.steward.session import Steward
from amatelier.steward.subagent import offline_steward


def research(prompt: str, agent: str = "elena") -> str:
    return OfflineBackend({}).complete(system="", prompt=prompt, task="research", agent=agent).text


def test_research_turn_asks_one_in_scope_and_one_out_of_scope_request(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    registry = tree.registry("- notes.md\n- docs/*.md")
    steward = Steward(registry, {"steward": {}}, "offline")
    prompt = "=== YOUR TASK ===\n" + research_instructions(steward)
    for agent in ("elena", "marcus", "clare", "simon"):
        requests = parse_requests(research(prompt, agent))
        assert len(requests) == 2
        assert requests[0] == "lines 1-40 of notes.md"
        assert try_deterministic(requests[0], registry).status == "ok"
        assert try_deterministic(requests[1], registry).status == "out_of_scope"


def test_research_turn_reads_the_briefing_section_when_no_list_is_given() -> None:
    prompt = "BRIEFING\n## Steward-Registered Files\n- `my notes.md` — notes\n## Next\n"
    assert registered_from_prompt(prompt) == ["my notes.md"]
    assert parse_requests(research(prompt))[0] == "lines 1-40 of `my notes.md`"


def test_research_turn_with_only_globs_lists_files() -> None:
    prompt = "REGISTERED FILES:\n- docs/*.md\n"
    assert parse_requests(research(prompt))[0] == "list files"


def test_research_turn_without_registered_files_asks_nothing() -> None:
    text = research("no files here")
    assert parse_requests(text) == [] and text.startswith("[offline]")


def test_research_turn_is_deterministic() -> None:
    prompt = "REGISTERED FILES:\n- notes.md\n"
    assert research(prompt, "naomi") == research(prompt, "naomi")


def test_steward_role_quotes_tool_results(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    registry = tree.registry("- notes.md\n- docs/**/*.md")
    result = offline_steward("how does the retry policy work?", registry, backend=None,
                             model="haiku", max_bytes=None, timeout_s=5)
    assert result.status == "ok" and result.method == "subagent:offline"
    assert "retry budget is 4 attempts" in result.output
    assert "the retry policy is exponential" in result.output
    assert result.path == "notes.md, docs/a.md, docs/sub/b.md"
    assert result.usage and result.usage[0].backend == "offline"


def test_steward_role_with_nothing_matching_says_so(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    result = offline_steward("what about zebras?", tree.registry("- notes.md"), backend=None,
                             model="haiku", max_bytes=None, timeout_s=5)
    assert result.status == "not_found"
    assert "do not answer this" in result.output


def test_steward_role_never_reads_an_out_of_scope_file_named_in_the_request(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    result = offline_steward(f"what is in {tree.secret} and ../secret.txt?",
                             tree.registry("- notes.md"), backend=None, model="haiku",
                             max_bytes=None, timeout_s=5)
    assert "TOP SECRET" not in result.output


def test_respond_dispatches_on_task() -> None:
    answer = respond(OfflineRequest(system="", prompt="STEWARD REQUEST: x\nTOOL RESULTS:\n### grep \"x\"\nno line matches",
                                    model="haiku", task="steward", agent="steward"))
    assert "do not answer this" in answer
