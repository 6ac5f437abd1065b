"""The price table: coverage of the bundled config, effective dates, bands, overrides, warnings."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from amatelier import pricing
from amatelier.backends.base import Completion
from amatelier.config import load_bundled_config


def bundled_model_ids() -> set[tuple[str, str]]:
    """(backend, model id) for every model the bundled config maps a role to."""
    cfg = load_bundled_config()
    llm = cfg["llm"]
    ids = {("anthropic-sdk", m) for m in llm["model_map"]["anthropic-sdk"].values()}
    compat = llm["openai_compat"]
    ids |= {("openai-compat", m) for m in compat["model_map"].values()}
    ids |= {("openai-compat", m) for m in compat["openrouter_model_map"].values()}
    ids |= {("claude-code", m) for m in llm["model_map"]["claude-code"].values()}
    ids.add(("gemini", llm["gemini"]["model"]))
    return ids


def tokens(**counts: int) -> Completion:
    """A call's token counts, as a backend reports them."""
    return Completion(text="", backend="test", model="m", **counts)


def test_every_model_the_bundled_config_maps_a_role_to_has_a_price_today() -> None:
    table = pricing.price_table(load_bundled_config())
    missing = pricing.unpriced_models(table, sorted(bundled_model_ids()), on=dt.date(2026, 11, 28))
    assert missing == []


def test_every_bundled_row_names_its_check_date_and_source() -> None:
    data = json.loads(pricing.TABLE_FILE.read_text(encoding="utf-8"))
    for row in data["models"]:
        assert dt.date.fromisoformat(row["checked"]) <= dt.date(2026, 11, 28), row["model"]
        assert len(row["source"]) > 20, row["model"]
        for key in ("input", "output", "cache_read", "cache_write"):
            assert row[key] is None or row[key] >= 0


def test_sonnet_cache_read_follows_the_effective_date() -> None:
    table = pricing.price_table({})
    before = table.lookup("claude-sonnet-5-5", dt.date(2026, 10, 6))
    after = table.lookup("claude-sonnet-5-5", dt.date(2026, 10, 7))
    assert before is not None and after is not None
    assert (before.rates.cache_read, after.rates.cache_read) == (0.2, 0.1)
    # a model released on a date has no price before it
    assert table.lookup("claude-haiku-5-5", dt.date(2026, 10, 1)) is None


def test_cost_uses_each_kind_of_token_at_its_rate() -> None:
    price = pricing.price_table({}).lookup("claude-sonnet-5-5", dt.date(2026, 11, 1))
    assert price is not None
    usage = tokens(input_tokens=1_000_000 + 2_000_000 + 500_000, output_tokens=100_000,
                          cache_read_tokens=2_000_000, cache_write_tokens=500_000)
    assert usage.uncached_input_tokens == 1_000_000
    # 1M uncached x $2 + 2M read x $0.10 + 0.5M written x $2.50 + 0.1M out x $10
    assert pricing.cost_usd(usage, price) == pytest.approx(2.0 + 0.2 + 1.25 + 1.0)


def test_haiku_long_prompt_band_applies_to_every_token_of_that_request() -> None:
    price = pricing.price_table({}).lookup("claude-haiku-5-5", dt.date(2026, 11, 1))
    assert price is not None
    short = tokens(input_tokens=100_000, output_tokens=1_000_000)
    long = tokens(input_tokens=100_001, output_tokens=1_000_000)
    assert pricing.cost_usd(short, price) == pytest.approx(100_000 * 0.1 / 1e6 + 0.5)
    assert pricing.cost_usd(long, price) == pytest.approx(100_001 * 0.5 / 1e6 + 2.5)


def test_snapshot_ids_and_aliases_find_their_row() -> None:
    table = pricing.price_table({})
    day = dt.date(2026, 11, 28)
    assert table.lookup("claude-haiku-4-5-20251001", day).model == "claude-haiku-4-5"
    assert table.lookup("anthropic/claude-sonnet-4", day).model == "claude-sonnet-4"
    assert table.lookup("gpt-4o-2024-08-06", day) is None  # not an 8-digit snapshot: unknown


def test_config_rows_override_and_add_models() -> None:
    config = {"pricing": {"models": {
        "gpt-4o": {"input": 1.0, "output": 2.0},
        "llama3:8b": [{"input": 0, "output": 0, "effective_from": "2026-01-01"},
                      {"input": 0.5, "output": 0.5, "effective_from": "2026-06-01"}],
    }}}
    table = pricing.price_table(config)
    gpt = table.lookup("gpt-4o")
    assert gpt is not None and gpt.origin == "config" and gpt.rates.input == 1.0
    # a missing cache rate is billed as input (an upper bound, never a guess below it)
    assert gpt.rates.read_rate() == 1.0
    assert table.lookup("llama3:8b", dt.date(2026, 3, 1)).rates.input == 0
    assert table.lookup("llama3:8b", dt.date(2026, 7, 1)).rates.input == 0.5


@pytest.mark.parametrize("row, key", [
    ({"input": -1, "output": 1}, "pricing.models.m.input"),
    ({"input": "1", "output": 1}, "pricing.models.m.input"),
    ({"output": 1}, "pricing.models.m"),
    ({"input": 1, "output": 1, "effective_from": "yesterday"}, "pricing.models.m.effective_from"),
    ({"input": 1, "output": float("nan")}, "pricing.models.m.output"),
])
def test_bad_config_rows_name_the_key(row: dict, key: str) -> None:
    with pytest.raises(pricing.PriceTableError, match=key.replace(".", r"\.")):
        pricing.price_table({"pricing": {"models": {"m": row}}})


def test_free_backends_cost_zero_and_unknown_models_cost_none() -> None:
    usage = tokens(input_tokens=1000, output_tokens=100)
    local = pricing.price_table({"pricing": {"openai_compat_free": True}})
    assert pricing.price_call(local, backend="openai-compat", model="llama3", usage=usage) == 0.0
    paid = pricing.price_table({})
    assert pricing.price_call(paid, backend="openai-compat", model="llama3", usage=usage) is None
    assert pricing.price_call(paid, backend="offline", model="offline-sonnet", usage=usage) == 0.0


def test_unpriced_warning_is_printed_once_and_names_the_config_key() -> None:
    seen: list[str] = []
    model = "mystery-model-for-warning-test"
    assert pricing.warn_unpriced(model, "openai-compat", sink=seen.append)
    assert not pricing.warn_unpriced(model, "openai-compat", sink=seen.append)
    assert len(seen) == 1
    assert f'pricing.models."{model}"' in seen[0] and "openai_compat_free" in seen[0]


def test_worst_case_bounds_every_real_outcome() -> None:
    price = pricing.price_table({}).lookup("claude-haiku-5-5", dt.date(2026, 11, 1))
    assert price is not None
    bound = pricing.worst_case_cost_usd(price, 120_000, 1024)
    for read in (0, 60_000, 120_000):
        for write in (0, 120_000 - read):
            usage = tokens(input_tokens=120_000, output_tokens=1024, cache_read_tokens=read,
                           cache_write_tokens=write)
            assert pricing.cost_usd(usage, price) <= bound + 1e-12


def test_prompt_token_bound_is_above_the_four_chars_per_token_count() -> None:
    text = "word " * 1000
    assert pricing.prompt_token_bound(text) >= len(text) // 4
    assert pricing.prompt_token_bound("") == 16
