"""What a model call costs: the bundled price table, the user's overrides, and the arithmetic.

Prices are USD per million tokens for four kinds of token: uncached input, output, cache
reads and cache writes (the 5-minute rate). Each row of the table carries the date it was
checked and its source, and may start at an `effective_from` date, so a price change keeps
old calls priced as they were billed. Users add or replace rows in config under
`pricing.models` ({"<model id>": {"input": .., "output": .., "cache_read": .., "cache_write": ..}}),
and `pricing.openai_compat_free: true` makes every openai-compat call cost 0 (a local
Ollama or vLLM server).

Token meaning (the same on every backend): `input_tokens` counts ALL input the provider
processed, cache reads and writes included; `uncached_input_tokens` = input - reads - writes.

Never a guessed price: an unknown model costs None (shown as unknown), with one warning per
process naming the config key to set.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

TABLE_FILE = Path(__file__).with_name("pricing_table.json")
PER_MILLION = 1_000_000.0
#: The conservative characters-per-token used to bound a prompt's tokens before a call
#: (English prose averages ~4; code and non-Latin text run lower).
CHARS_PER_TOKEN_BOUND = 3.0
_RATE_KEYS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class Rates:
    """USD per million tokens for each kind of token (cache rates may be unpublished: None)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def read_rate(self) -> float:
        """Cache reads at their own rate; an unpublished rate is billed as input (an upper bound)."""
        return self.input if self.cache_read is None else self.cache_read

    def write_rate(self) -> float:
        """Cache writes at their own rate, else as input."""
        return self.input if self.cache_write is None else self.cache_write


@dataclass(frozen=True)
class Price:
    """One row of the price table."""

    model: str
    rates: Rates
    checked: str = ""
    source: str = ""
    effective_from: str | None = None          # ISO date; None = always
    aliases: tuple[str, ...] = ()
    long_prompt: Rates | None = None            # rates for a prompt above long_prompt_threshold
    long_prompt_threshold: int | None = None
    origin: str = "bundled"                     # bundled | config

    def rates_for(self, prompt_tokens: int) -> Rates:
        """The band that applies to a request with this many prompt tokens (input incl. cache)."""
        if self.long_prompt is not None and self.long_prompt_threshold is not None \
                and prompt_tokens > self.long_prompt_threshold:
            return self.long_prompt
        return self.rates


class Usage(Protocol):
    """Token counts of one call, with the single meaning above: what cost_usd needs.

    backends.base.Completion is the record that carries them; pricing only reads them.
    """

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int

    @property
    def uncached_input_tokens(self) -> int: ...


class PriceTableError(ValueError):
    """A price row (bundled or from config) is malformed; names the key to fix."""


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < 0:
        raise PriceTableError(f"{where}: expected a price >= 0 in USD per million tokens, got {value!r}")
    return float(value)


def _rates(row: Mapping[str, Any], where: str) -> Rates:
    return Rates(input=float(_number(row.get("input"), f"{where}.input") or 0.0),
                 output=float(_number(row.get("output"), f"{where}.output") or 0.0),
                 cache_read=_number(row.get("cache_read"), f"{where}.cache_read", optional=True),
                 cache_write=_number(row.get("cache_write"), f"{where}.cache_write", optional=True))


def _date(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return _dt.date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise PriceTableError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from exc


def parse_row(model: str, row: Mapping[str, Any], *, where: str, origin: str) -> Price:
    """One table row (a dict) to a Price; PriceTableError names `where` when it is malformed."""
    if not isinstance(row, Mapping):
        raise PriceTableError(f"{where}: expected an object with input/output/cache_read/cache_write")
    if "input" not in row or "output" not in row:
        raise PriceTableError(f"{where}: needs at least 'input' and 'output'")
    long_prompt = row.get("long_prompt")
    band = threshold = None
    if isinstance(long_prompt, Mapping):
        band = _rates(long_prompt, f"{where}.long_prompt")
        threshold = int(_number(long_prompt.get("threshold_tokens"), f"{where}.long_prompt.threshold_tokens") or 0)
    aliases = row.get("aliases") or ()
    return Price(model=model, rates=_rates(row, where), checked=str(row.get("checked") or ""),
                 source=str(row.get("source") or ""),
                 effective_from=_date(row.get("effective_from"), f"{where}.effective_from"),
                 aliases=tuple(str(a) for a in aliases if isinstance(a, str)),
                 long_prompt=band, long_prompt_threshold=threshold, origin=origin)


@lru_cache(maxsize=1)
def bundled_rows() -> tuple[Price, ...]:
    """The price table shipped with amatelier (read once per process)."""
    data = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    rows = []
    for index, row in enumerate(data.get("models", [])):
        rows.append(parse_row(str(row.get("model")), row, where=f"{TABLE_FILE.name} models[{index}]",
                              origin="bundled"))
    return tuple(rows)


def config_rows(config: Mapping[str, Any] | None) -> list[Price]:
    """Rows from config `pricing.models`: {model: row} or {model: [rows with effective_from]}."""
    models = ((config or {}).get("pricing") or {}).get("models") or {}
    if not isinstance(models, Mapping):
        raise PriceTableError("pricing.models: expected an object {model id: prices}")
    rows = []
    for model, value in models.items():
        entries = value if isinstance(value, list) else [value]
        for index, entry in enumerate(entries):
            where = f"pricing.models.{model}" + (f"[{index}]" if isinstance(value, list) else "")
            rows.append(parse_row(str(model), entry, where=where, origin="config"))
    return rows


@dataclass
class PriceTable:
    """Bundled rows plus config rows; config rows win for the models they name."""

    rows: list[Price] = field(default_factory=list)
    free_backends: frozenset[str] = frozenset()

    def _candidates(self, model: str) -> list[Price]:
        exact = [p for p in self.rows if p.model == model]
        if exact:
            return exact
        aliased = [p for p in self.rows if model in p.aliases]
        if aliased:
            return aliased
        base = strip_snapshot_suffix(model)
        return [p for p in self.rows if p.model == base] if base != model else []

    def lookup(self, model: str, on: _dt.date | None = None) -> Price | None:
        """The row in force for `model` on a date (today by default); None when unknown."""
        day = (on or _dt.datetime.now(_dt.UTC).date()).isoformat()
        candidates = self._candidates(model)
        own = [p for p in candidates if p.origin == "config"]
        pool = own or candidates
        live = [p for p in pool if p.effective_from is None or p.effective_from <= day]
        if not live:
            return None
        return max(live, key=lambda p: p.effective_from or "")

    def models(self) -> list[str]:
        return sorted({p.model for p in self.rows})


def strip_snapshot_suffix(model: str) -> str:
    """`claude-haiku-4-5-20251001` -> `claude-haiku-4-5` (a dated snapshot of a priced model)."""
    head, _, tail = model.rpartition("-")
    return head if head and len(tail) == 8 and tail.isdigit() else model


def price_table(config: Mapping[str, Any] | None = None) -> PriceTable:
    """The table in force for a config: bundled rows, the user's rows, and free backends."""
    section = (config or {}).get("pricing") or {}
    free = {"offline"}
    if section.get("openai_compat_free"):
        free.add("openai-compat")
    return PriceTable(rows=[*bundled_rows(), *config_rows(config)], free_backends=frozenset(free))


def cost_usd(usage: Usage, price: Price) -> float:
    """What a call with this usage costs at this price (USD)."""
    rates = price.rates_for(usage.input_tokens)
    total = (usage.uncached_input_tokens * rates.input + usage.cache_read_tokens * rates.read_rate()
             + usage.cache_write_tokens * rates.write_rate() + usage.output_tokens * rates.output)
    return total / PER_MILLION


def worst_case_cost_usd(price: Price, prompt_tokens: int, max_tokens: int) -> float:
    """An upper bound on a call's cost before it is made.

    Every prompt token at the dearest input-side rate (a cache write usually), the full
    `max_tokens` at the output rate, in the long-prompt band when the prompt could reach it.
    """
    rates = price.rates_for(prompt_tokens)
    dearest_input = max(rates.input, rates.read_rate(), rates.write_rate())
    return (prompt_tokens * dearest_input + max_tokens * rates.output) / PER_MILLION


def prompt_token_bound(*texts: str, chars_per_token: float = CHARS_PER_TOKEN_BOUND) -> int:
    """A generous bound on the tokens a prompt made of these texts can take."""
    chars = sum(len(t or "") for t in texts)
    return int(math.ceil(chars / max(0.5, chars_per_token))) + 16


def config_key_for(model: str) -> str:
    """The config key a user sets to price `model`."""
    return f'pricing.models."{model}"'


def unpriced_warning(model: str, backend: str) -> str:
    """The one-line warning for a model with no price."""
    return (f"no price for model '{model}' ({backend}); its cost_usd stays empty. Set "
            f"{config_key_for(model)} in your config to "
            '{"input": .., "output": .., "cache_read": .., "cache_write": ..} (USD per million tokens)'
            + ("; or pricing.openai_compat_free: true for a local server" if backend == "openai-compat" else ""))


_warned: set[str] = set()


def _stderr(text: str) -> None:
    print(f"amatelier: warning: {text}", file=sys.stderr, flush=True)


def warn_once(key: str, text: str, sink: Callable[[str], None] = _stderr) -> bool:
    """Print a warning once per process per key (an unpriced model, a broken price row)."""
    if key in _warned:
        return False
    _warned.add(key)
    sink(text)
    return True


def warn_unpriced(model: str, backend: str, sink: Callable[[str], None] = _stderr) -> bool:
    """Warn once per process that `model` has no price; True when this call warned."""
    return warn_once(f"model:{model}", unpriced_warning(model, backend), sink)


def price_call(table: PriceTable, *, backend: str, model: str, usage: Usage,
               on: _dt.date | None = None) -> float | None:
    """Cost of one call, 0.0 on a free backend, None when the model has no price."""
    if backend in table.free_backends:
        return 0.0
    price = table.lookup(model, on)
    return None if price is None else round(cost_usd(usage, price), 10)


def unpriced_models(table: PriceTable, pairs: Iterable[tuple[str, str]],
                    on: _dt.date | None = None) -> list[tuple[str, str]]:
    """(backend, model) pairs that would cost None: for a warning before a roundtable starts."""
    missing = []
    for backend, model in pairs:
        if backend not in table.free_backends and table.lookup(model, on) is None \
                and (backend, model) not in missing:
            missing.append((backend, model))
    return missing
