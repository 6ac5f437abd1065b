"""What the user asked for, checked: options, the plan (workers, mode, briefing, limits), models.

Planning writes nothing, so every bad flag or missing key fails before a roundtable exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.briefing_format import read_briefing
from amatelier.debate.limits import input_warnings
from amatelier.errors import UserError
from amatelier.steward.missing import missing_warning

NAOMI = "naomi"


@dataclass
class RunOptions:
    """What the user asked for (CLI flags), before validation."""

    topic: str
    briefing: str
    workers: list[str] | None = None
    max_rounds: int | None = None
    skip_naomi: bool = False
    speaker_timeout: float | None = None
    budget: int | None = None
    skip_post: bool = False
    no_precedents: bool = False           # --no-precedents: show no earlier decisions
    audit_judge: bool = False
    launch_dir: Path = field(default_factory=Path.cwd)
    max_cost_usd: float | None = None       # ceilings (None: the config default; 0: none)
    max_tokens: int | None = None
    max_minutes: float | None = None
    rt_id: str | None = None                      # chosen by the caller (the jobs API), else generated
    seed: int | None = None                       # the run seed (else AMATELIER_SEED, else random)
    quality_targets: dict[str, Any] | None = None  # recorded in the run manifest
    benchmark: bool = False        # judged, but changes no agent state (judging.benchmark)
    batch_id: str | None = None    # recorded in the run manifest (else AMATELIER_BATCH_ID)
    batch_run: str | None = None
    persona_set: str = "current"   # seed: workers read the bundled personas
    pause_for_human: float | None = None      # seconds to wait for `amatelier say` after each gate


@dataclass
class Plan:
    """Everything decided before anything is written."""

    config: dict[str, Any]
    mode: str
    workers: list[str]
    judge: str
    briefing_path: Path
    briefing_text: str
    max_rounds: int
    budget: int
    speaker_timeout: float
    warnings: list[str] = field(default_factory=list)
    limits: Any = None                      # chat.ceilings.Limits
    steward_missing: list[str] = field(default_factory=list)   # registered entries naming no file


def parse_workers(csv: str | None) -> list[str] | None:
    """`--workers` CSV to a de-duplicated, lower-cased list (None when not given)."""
    if csv is None:
        return None
    seen: list[str] = []
    for name in csv.split(","):
        name = name.strip().lower()
        if name and name not in seen:
            seen.append(name)
    return seen


def resolve_briefing(spec: str) -> Path:
    """The briefing file: first under the user briefing dir, then as given; UserError if neither."""
    given = Path(spec).expanduser()
    candidates = [paths.user_briefing_dir() / spec, given]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    if given.is_dir():
        raise UserError(f"briefing {spec} is a directory; give the briefing's markdown file")
    raise UserError(f"briefing not found: {spec} (looked in {paths.user_briefing_dir()} and "
                    f"{given.resolve() if not given.is_absolute() else given})")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if value < low or value > high:
        raise UserError(f"{name} must be between {low:g} and {high:g} (got {value:g})")


def _bounded(flag: str, given: float | None, settings: dict[str, Any], key: str, default: float,
             low: float, high: float, *, whole: bool = True) -> float:
    """A flag's value, else the config default; out of range names the flag or the config key."""
    if given is not None:
        _check_range(flag, given, low, high)
        return given
    from amatelier.config import ConfigError, source_of

    value = settings.get(key, default)
    dotted = f"roundtable.{key}"
    if whole and value != int(value):
        raise ConfigError(source_of(dotted), dotted, f"expected a whole number, got {value:g}")
    if value < low or value > high:
        raise ConfigError(source_of(dotted), dotted,
                          f"must be between {low:g} and {high:g} (got {value:g}; {flag} overrides it)")
    return value


def plan_roundtable(opts: RunOptions, *, config: dict[str, Any] | None = None) -> Plan:
    """Validate options, resolve workers, backend mode and briefing. Writes nothing."""
    from amatelier.config import load_config
    from amatelier.llm_backend import BACKENDS, make_backend, resolve_mode

    cfg = config if config is not None else load_config()
    settings = cfg.get("roundtable", {})
    team = cfg.get("team", {})
    known = sorted(team.get("workers", {}))
    judge = team.get("judge", {}).get("name", "judge")
    if not opts.topic or not opts.topic.strip():
        raise UserError("--topic must not be empty")

    max_rounds = int(_bounded("--max-rounds", opts.max_rounds, settings, "max_rounds", 3, 1,
                              int(settings.get("max_rounds_limit", 20))))
    budget = int(_bounded("--budget", opts.budget, settings, "budget_per_agent", 3, 0,
                          int(settings.get("budget_limit", 50))))
    timeout = float(_bounded("--speaker-timeout", opts.speaker_timeout, settings, "speaker_timeout_s", 200,
                             1, float(settings.get("speaker_timeout_limit_s", 3600)), whole=False))

    if opts.workers is not None:
        workers = list(opts.workers)
        if not workers:
            raise UserError("--workers is empty (known agents: " + ", ".join(known) + ")")
        unknown = [w for w in workers if w not in known]
        if unknown:
            raise UserError(f"unknown worker {', '.join(repr(u) for u in unknown)} "
                            f"(known agents: {', '.join(known)})")
    else:
        workers = [w for w in team.get("default_workers", []) if w in known]
        if NAOMI in known and NAOMI not in workers:
            workers.append(NAOMI)
    if opts.skip_naomi and NAOMI in workers:
        workers.remove(NAOMI)

    briefing_path = resolve_briefing(opts.briefing)
    briefing_text = read_briefing(briefing_path, str(briefing_path), UserError)

    mode = resolve_mode(cfg)
    make_backend(mode, cfg)  # BackendUnavailable here: one clear error before anything is written
    from amatelier.config import source_of
    from amatelier.judging.panel import validate_jury

    seats = validate_jury(cfg, mode, str(source_of("judging.jury")))  # a bad seat: one line, nothing written
    warnings: list[str] = []
    from amatelier.judging.jury import alpha_available

    if len(seats) > 1 and not alpha_available():
        warnings.append("the jury's agreement (alpha) needs the krippendorff package: pip install '.[jury]' from your amatelier checkout")
    from amatelier.economy import bench  # benched agents sit out the default roster (read-only)

    workers, bench_notes = bench.seat_workers(workers, bench.read_benched(), explicit=opts.workers is not None)
    warnings += bench_notes
    from amatelier.economy.retirement import RetirementError, retired_agents, without_retired

    try:  # retired agents left the default team; their state is archived
        workers, retired_notes = without_retired(workers, retired_agents(), explicit=opts.workers is not None)
    except RetirementError as exc:
        raise UserError(str(exc)) from None
    warnings += retired_notes
    if NAOMI in workers and mode != "offline":
        from amatelier.config import worker_backend

        if worker_backend(cfg, NAOMI) == "gemini":
            ok, how = BACKENDS["gemini"].detect(cfg)
            if not ok:
                workers.remove(NAOMI)
                warnings.append(f"naomi skipped: {how}")
    if not workers:
        raise UserError("no workers left to run the roundtable")
    warnings += input_warnings(opts.topic, briefing_text)
    missing = steward_missing(briefing_text, opts.launch_dir)
    if missing:
        warnings.append(missing_warning(missing))

    limits = plan_limits(opts, cfg)
    unpriced = unpriced_warnings(cfg, mode, workers, judge)
    if limits.max_cost_usd is not None and unpriced:
        raise UserError(f"--max-cost-usd cannot be enforced: {unpriced[0]}")
    warnings += unpriced
    return Plan(config=cfg, mode=mode, workers=workers, judge=judge, briefing_path=briefing_path,
                briefing_text=briefing_text, max_rounds=max_rounds, budget=budget,
                speaker_timeout=timeout, warnings=warnings, limits=limits, steward_missing=missing)


MAX_CEILING = 2**53
CEILING_FLAGS = {"max_cost_usd": "--max-cost-usd", "max_tokens": "--max-tokens",
                 "max_minutes": "--max-minutes"}


def plan_limits(opts: RunOptions, cfg: dict[str, Any]) -> Any:
    """The roundtable's ceilings: flags, else `roundtable.ceilings.*` (0 = no limit)."""
    from amatelier.chat.ceilings import limits_from
    from amatelier.config import ConfigError, source_of

    section = (cfg.get("roundtable", {}) or {}).get("ceilings", {}) or {}
    values: dict[str, float | int | None] = {}
    for key, flag in CEILING_FLAGS.items():
        given = getattr(opts, key)
        if given is not None:
            if not 0 <= given <= MAX_CEILING:  # also refuses nan and inf; SQLite stores at most 2**63-1
                raise UserError(f"{flag} must be 0 (no limit) up to {MAX_CEILING} (got {given:g})")
            values[key] = given
            continue
        value = section.get(key, 0)
        dotted = f"roundtable.ceilings.{key}"
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_CEILING:
            raise ConfigError(source_of(dotted), dotted, f"must be 0 (no limit) up to {MAX_CEILING} (got {value!r})")
        values[key] = value
    reserve = section.get("decision_reserve", 0.1)
    if isinstance(reserve, bool) or not isinstance(reserve, int | float) or not 0 <= reserve <= 0.9:
        dotted = "roundtable.ceilings.decision_reserve"
        raise ConfigError(source_of(dotted), dotted, f"must be between 0 and 0.9 (got {reserve!r})")
    return limits_from(values, float(reserve))


def unpriced_warnings(cfg: dict[str, Any], mode: str, workers: list[str], judge: str) -> list[str]:
    """One warning per model the roundtable may call that has no price (its cost stays null)."""
    from amatelier import pricing

    try:
        table = pricing.price_table(cfg)
    except pricing.PriceTableError as exc:
        return [f"prices not applied: {exc}"]
    models = worker_models(cfg, mode, workers, judge)
    missing = pricing.unpriced_models(table, [(m["backend"], m["model"]) for m in models.values()])
    return [pricing.unpriced_warning(model, backend) for backend, model in missing]



def steward_missing(briefing_text: str, launch_dir: Path | str) -> list[str]:
    """Registered entries of the briefing that name no file (read-only; [] without a section)."""
    from amatelier.steward.missing import missing_entries
    from amatelier.steward.registry import load_registered_files

    return missing_entries(load_registered_files(briefing_text, launch_dir))


def worker_models(config: dict[str, Any], mode: str, agents: list[str], judge: str) -> dict[str, dict[str, str]]:
    """{agent: {role, backend, model}} as the workers will run them."""
    from amatelier.config import worker_backend, worker_model
    from amatelier.debate.context import agent_role
    from amatelier.llm_backend import BACKENDS

    result = {}
    for agent in [*agents, judge]:
        token = worker_model(config, agent)
        backend = "gemini" if worker_backend(config, agent) == "gemini" and mode != "offline" else mode
        cls = BACKENDS.get(backend)
        model = cls(config).resolve_model(token) if cls else token
        result[agent] = {"role": agent_role(config, agent), "backend": backend, "model": model}
    return result
