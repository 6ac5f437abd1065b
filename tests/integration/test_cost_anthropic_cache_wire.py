"""Breakpoints that move forward: the real anthropic SDK against the caching simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.backends_config import fast_config, isolated_env
from tests.helpers.fake_caching import CachingAnthropic

from amatelier.backends.anthropic_sdk import AnthropicSDKBackend, cached_layout

pytestmark = pytest.mark.wire
PERSONA = "You are Clare. Concise structural analysis. " * 100      # ~4.4k chars, ~1.1k tokens
BRIEFING = "AMATELIER TURN\n=== BRIEFING ===\n" + "Split the monolith? Constraints. " * 120


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    with CachingAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        yield fake


def turn(transcript: list[str], task: str) -> tuple[str, list[int]]:
    """A prompt laid out as a stable prefix, with the offsets where each message ends."""
    text = BRIEFING + "\n"
    points = [len(text)]
    for line in transcript:
        text += line + "\n"
        points.append(len(text))
    return text + "=== YOUR TASK ===\n" + task, points


def test_each_turn_reads_what_the_previous_turn_wrote(server: CachingAnthropic) -> None:
    backend = AnthropicSDKBackend(fast_config())
    messages = [f"[#{i} r1 SPEAK] agent{i % 4}: " + f"point {i} " * 120 for i in range(12)]
    prompt1, points1 = turn(messages[:4], "ROUND: 1\nPHASE: SPEAK")
    first = backend.complete(system=PERSONA, prompt=prompt1, model="haiku", max_tokens=50,
                             cache_points=[points1[0], points1[-1]])
    prompt2, points2 = turn(messages[:9], "ROUND: 1\nPHASE: REBUTTAL")
    second = backend.complete(system=PERSONA, prompt=prompt2, model="haiku", max_tokens=50,
                              cache_points=[points2[0], points2[4], points2[-1]])

    assert first.cache_read_tokens == 0 and first.cache_write_tokens > 0
    # the second turn reads exactly the prefix the first wrote (persona + briefing + 4 messages)
    assert second.cache_read_tokens == first.cache_write_tokens
    assert second.input_tokens == second.cache_read_tokens + second.cache_write_tokens \
        + second.uncached_input_tokens
    share = second.cache_read_tokens / second.input_tokens
    assert share > 0.5
    for request in server.api_requests():
        body = request.json
        marks = [b for b in body["system"] if b.get("cache_control")]
        marks += [b for b in body["messages"][0]["content"] if b.get("cache_control")]
        assert len(marks) <= 4
        # a Haiku persona below 2,048 tokens is not cached alone (it rides with the briefing)
        assert not body["system"][0].get("cache_control")
        assert "".join(b["text"] for b in body["messages"][0]["content"]).endswith("PHASE: SPEAK") \
            or "REBUTTAL" in body["messages"][0]["content"][-1]["text"]


def test_layout_marks_at_most_four_points_and_keeps_the_text_whole() -> None:
    prompt = "abcdefghij" * 10
    system, content = cached_layout("p" * 10_000, prompt, "claude-sonnet-5-5", [10, 20, 30, 40, 50, 0, 999])
    assert system[0]["cache_control"]  # 2,500 tokens alone: cached on its own
    assert "".join(b["text"] for b in content) == prompt
    marked = [b for b in content if b.get("cache_control")]
    assert len(marked) == 3 and content[4]["cache_control"] and not content[1].get("cache_control")
    small_system, plain = cached_layout("short persona", "just a prompt", "claude-haiku-5-5")
    assert plain == "just a prompt" and small_system[0]["cache_control"]  # no points: as before
