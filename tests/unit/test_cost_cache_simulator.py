"""The fakes' caching rules (they decide what the bench's cache-read share means)."""

from __future__ import annotations

import pytest
from tests.helpers.fake_caching import AnthropicCacheSimulator, CacheRuleError, OpenAIPrefixCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def text(chars: int, mark: bool = False, seed: str = "x") -> dict:
    block = {"type": "text", "text": (seed * chars)[:chars]}
    if mark:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def request(model: str, system: list[dict], content: list[dict]) -> dict:
    return {"model": model, "max_tokens": 10, "system": system,
            "messages": [{"role": "user", "content": content}]}


def test_a_prefix_is_written_once_then_read_and_the_rest_is_uncached() -> None:
    sim = AnthropicCacheSimulator(Clock())
    body = request("claude-sonnet-5-5", [text(8000, mark=True)], [text(400, seed="t")])
    first = sim.process(body)
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens, first.input_tokens) \
        == (2000, 0, 100)
    second = sim.process(body)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens, second.input_tokens) \
        == (0, 2000, 100)


def test_breakpoints_move_forward_and_read_the_longest_cached_prefix() -> None:
    sim = AnthropicCacheSimulator(Clock())
    persona = text(6000, mark=True, seed="p")
    turn1 = [text(2000, mark=True, seed="a")]
    sim.process(request("claude-opus-5-5", [persona], turn1 + [text(40, seed="q")]))
    # next turn: the old end stays a breakpoint, the transcript grew, a new breakpoint at its end
    turn2 = [text(2000, mark=True, seed="a"), text(2000, mark=True, seed="b"), text(40, seed="r")]
    usage = sim.process(request("claude-opus-5-5", [persona], turn2))
    assert usage.cache_read_input_tokens == 2000  # persona 1500 + first chunk 500
    assert usage.cache_creation_input_tokens == 500
    assert usage.input_tokens == 10


def test_prefixes_below_the_model_minimum_are_not_cached() -> None:
    sim = AnthropicCacheSimulator(Clock())
    body = request("claude-haiku-5-5", [text(6000, mark=True)], [text(400)])  # 1500 < 2048
    assert sim.process(body).cache_creation_input_tokens == 0
    assert sim.process(body).cache_read_input_tokens == 0
    sonnet = request("claude-sonnet-5-5", [text(6000, mark=True)], [text(400)])  # 1500 >= 1024
    sim.process(sonnet)
    assert sim.process(sonnet).cache_read_input_tokens == 1500
    # persona cached together with the briefing reaches the Haiku minimum
    joint = request("claude-haiku-5-5", [text(6000)], [text(3000, mark=True, seed="b"), text(40)])
    sim.process(joint)
    assert sim.process(joint).cache_read_input_tokens == 2250


def test_entries_live_five_minutes_from_their_last_use() -> None:
    clock = Clock()
    sim = AnthropicCacheSimulator(clock)
    body = request("claude-sonnet-5-5", [text(8000, mark=True)], [text(40)])
    sim.process(body)
    clock.now += 299
    assert sim.process(body).cache_read_input_tokens == 2000   # a hit refreshes the entry
    clock.now += 299
    assert sim.process(body).cache_read_input_tokens == 2000
    clock.now += 301
    again = sim.process(body)
    assert (again.cache_read_input_tokens, again.cache_creation_input_tokens) == (0, 2000)


def test_more_than_four_breakpoints_is_refused_and_models_do_not_share() -> None:
    sim = AnthropicCacheSimulator(Clock())
    with pytest.raises(CacheRuleError, match="maximum of 4"):
        sim.process(request("claude-sonnet-5-5", [text(10, mark=True)],
                            [text(10, mark=True) for _ in range(4)]))
    body = request("claude-sonnet-5-5", [text(8000, mark=True)], [text(40)])
    sim.process(body)
    other = dict(body, model="claude-opus-5-5")
    assert sim.process(other).cache_read_input_tokens == 0


def test_openai_prefix_cache_counts_shared_prefixes_in_steps() -> None:
    cache = OpenAIPrefixCache()
    first = {"model": "gpt-4o", "messages": [{"role": "system", "content": "s" * 8000},
                                             {"role": "user", "content": "u" * 400}]}
    assert cache.process(first) == (len("<system>" + "s" * 8000 + "<user>" + "u" * 400) // 4, 0)
    second = {"model": "gpt-4o", "messages": [{"role": "system", "content": "s" * 8000},
                                              {"role": "user", "content": "v" * 400}]}
    prompt, cached = cache.process(second)
    assert cached == 1920 and cached % 128 == 0 and cached <= prompt
    short = {"model": "gpt-4o", "messages": [{"role": "user", "content": "w" * 400}]}
    cache.process(short)
    assert cache.process(short)[1] == 0  # below 1,024 tokens nothing is cached
