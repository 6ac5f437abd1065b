"""The human docs and llm/ stay navigable and agree with config.json and the personas."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _markdown_files() -> list[Path]:
    return sorted([ROOT / "README.md", *DOCS.rglob("*.md"), *(ROOT / "llm").glob("*.md")])


def _commands() -> list[str]:
    """The top-level commands `amatelier --help` lists (the lazy CLI's stored table)."""
    table = ROOT / "src" / "amatelier" / "commands" / "commands_table.json"
    return [c["name"] for c in json.loads(table.read_text(encoding="utf-8")) if not c["hidden"]]


def _config() -> dict:
    return json.loads((ROOT / "src" / "amatelier" / "config.json").read_text(encoding="utf-8"))


def _fenced(text: str, lang: str = "json") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)\n```", text, flags=re.DOTALL)


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        assert resolved.exists(), f"{path.relative_to(ROOT)} links to missing {target}"


def test_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = {(DOCS / t.split("#", 1)[0]).resolve() for t in LINK.findall(index)}
    pages = [p for p in DOCS.rglob("*.md") if p.name != "index.md" or p.parent != DOCS]
    missing = [str(p.relative_to(DOCS)) for p in pages if p.resolve() not in linked]
    assert not missing, f"docs/index.md does not link: {missing}"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_install_of_the_other_projects_package(path: Path) -> None:
    """PyPI's `amatelier` is someone else's project: docs install from the checkout only."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert not re.search(r"(pip|pipx|uv tool|uv pip) install +['\"]?amatelier($|[^-])", line), (
            f"{path.relative_to(ROOT)}:{number} installs PyPI's `amatelier`: {line.strip()}"
        )


def test_install_hints_in_the_code_name_the_checkout() -> None:
    """Error hints for missing extras say `pip install '.[extra]'`, never PyPI's `amatelier[extra]`."""
    pattern = re.compile(r"(pip|pipx|uv tool|uv pip) install +['\"]?amatelier($|[^-])")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "src" / "amatelier").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, f"install hints that fetch PyPI's `amatelier`: {offenders}"


def test_readme_command_table_covers_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    missing = [
        name for name in _commands()
        if not any(re.match(rf"\| `{re.escape(name)}( |`)|.*, `{re.escape(name)}[ `]", row)
                   for row in table)
    ]
    assert not missing, f"README.md's command table lacks: {missing}"


def test_llm_reference_mentions_every_command() -> None:
    text = "\n".join(
        (ROOT / "llm" / name).read_text(encoding="utf-8")
        for name in ("SPEC.md", "WORKFLOWS.md", "EXAMPLES.md")
    )
    missing = [name for name in _commands() if f"amatelier {name}" not in text]
    assert not missing, f"llm/SPEC, WORKFLOWS and EXAMPLES never mention: {missing}"


def test_llm_spec_lists_every_digest_key() -> None:
    schema = json.loads((DOCS / "schemas" / "digest.schema.json").read_text(encoding="utf-8"))
    spec = (ROOT / "llm" / "SPEC.md").read_text(encoding="utf-8")
    missing = [key for key in schema["properties"] if f"{key}:" not in spec]
    assert not missing, f"llm/SPEC.md's digest keys lack: {missing}"


def test_spark_economy_numbers_match_config() -> None:
    text = (DOCS / "reference" / "protocols" / "spark-economy.md").read_text(encoding="utf-8")
    competition = _config()["competition"]
    for tier, fee in competition["entry_fees"].items():
        assert f"| {tier} | {fee} |" in text, f"entry fee for {tier}"
    for tier, venture in competition["ventures"].items():
        stake, mult = venture["stake"], venture["multiplier"]
        payout = stake * mult
        row = f"| `{tier}` | {stake} | {mult} | {payout:g} | +{payout - stake:g} |"
        assert row in text, f"venture row for {tier}: {row}"
    for name, amount in competition["penalties"].items():
        assert f"{name} {amount:+d}".replace("-", "−") in text
    assert f"+{competition['gate_bonus']['sparks']} per Judge `GATE:`" in text
    assert f"at most {competition['gate_bonus']['max_per_rt']} gates per roundtable" in text
    assert f"**{competition['relegation']['consecutive_net_negative']} consecutive**" in text
    assert f"{competition['relegation']['bench_income']} sparks of passive income" in text


def test_competition_example_is_valid_judge_output() -> None:
    text = (DOCS / "reference" / "protocols" / "competition.md").read_text(encoding="utf-8")
    (example,) = _fenced(text)
    scores = json.loads(example)["scores"]
    assert scores
    # the example shows the rarer shapes too, so the checks below have something to check
    assert any(entry["penalties"] for entry in scores.values())
    assert any(entry["grand_insight"] for entry in scores.values())
    for entry in scores.values():
        axes = [entry[a] for a in ("novelty", "accuracy", "impact", "challenge")]
        assert all(v in {0, 1, 2, 3, 10} for v in axes)
        if 10 in axes:
            gi = entry["grand_insight"]
            assert gi and all(gi[k] for k in ("axis", "quote", "before", "after"))
            assert entry[gi["axis"]] == 10
        else:
            assert entry["grand_insight"] is None
        for penalty in entry["penalties"]:
            assert penalty["type"] in {"redundancy", "hallucination", "off_directive"}
            assert penalty["quote"]


def test_debrief_outcome_example_matches_the_therapist_persona() -> None:
    doc = (DOCS / "reference" / "protocols" / "debrief.md").read_text(encoding="utf-8")
    persona = (ROOT / "src" / "amatelier" / "agents" / "therapist" / "CLAUDE.md").read_text(
        encoding="utf-8"
    )
    (doc_block,) = _fenced(doc)
    (persona_block,) = _fenced(persona)
    doc_outcome, persona_outcome = json.loads(doc_block), json.loads(persona_block)
    assert set(doc_outcome) == set(persona_outcome)
    assert set(doc_outcome["memory_updates"]) == set(persona_outcome["memory_updates"])
    assert set(doc_outcome["behavioral_deltas"][0]) == set(persona_outcome["behavioral_deltas"][0])
    assert set(doc_outcome["goals"][0]) == set(persona_outcome["goals"][0])


def test_roundtable_limits_match_config() -> None:
    text = (DOCS / "reference" / "protocols" / "roundtable.md").read_text(encoding="utf-8")
    rt = _config()["roundtable"]
    assert f"| rounds | {rt['max_rounds']} | {rt['max_rounds_limit']} | `--max-rounds` |" in text
    assert (
        f"| floor budget per worker | {rt['budget_per_agent']} | {rt['budget_limit']} | `--budget` |"
        in text
    )
    assert (
        f"| seconds per turn | {rt['speaker_timeout_s']} | {rt['speaker_timeout_limit_s']} |"
        in text
    )


def test_research_budgets_match_config() -> None:
    text = (DOCS / "reference" / "protocols" / "research.md").read_text(encoding="utf-8")
    steward = _config()["steward"]
    assert f"| research window (round 0) | {steward['research_window_budget']}, free" in text
    assert f"| the debate (all rounds) | {steward['budget_per_agent']} per roundtable" in text
    assert f"({steward['timeout_s']} s)" in text


def test_llm_examples_use_real_commands() -> None:
    text = (ROOT / "llm" / "EXAMPLES.md").read_text(encoding="utf-8")
    for command in (
        "AMATELIER_MODE=offline amatelier roundtable",
        "--briefing examples/briefings/hello-world.md",
        "amatelier watch",
        "amatelier config --json",
        "amatelier refresh-seeds --dry-run",
    ):
        assert command in text
