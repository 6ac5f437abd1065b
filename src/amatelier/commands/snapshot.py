"""CLI commands for persona snapshots: `amatelier snapshot mint|list|show|diff|restore`.

A snapshot is an immutable, numbered record of an agent's persona with the benchmark runs
and seed-vs-current comparison that go with it; `restore` brings its persona back and keeps
the current one in the agent's history.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from amatelier.commands.batch import reported
from amatelier.commands.output import JSON_OPTION, print_listing
from amatelier.commands.output import print_json as _print_json

snapshot_app = typer.Typer(name="snapshot", no_args_is_help=True, add_completion=False,
                           help="Mint, compare and restore numbered snapshots of an agent's persona.")
BATCH_OPTION = typer.Option(None, "--batch", metavar="BATCH_ID",
                            help="Include this batch's runs of the agent (repeatable).")
SEED_HELP = "Seed version folder (default: the one of the installed seed persona)."


def _numbers_line(comparison: dict[str, Any]) -> str:
    def fmt(value: Any, spec: str = ".3f") -> str:
        return format(value, spec) if isinstance(value, (int, float)) else "—"

    return (f"baseline (seed) {fmt(comparison.get('baseline_avg_score'))} over {comparison.get('baseline_runs', 0)} "
            f"runs · specialist (current) {fmt(comparison.get('specialist_avg_score'))} over "
            f"{comparison.get('specialist_runs', 0)} runs · improvement {fmt(comparison.get('improvement'), '+.3f')}"
            f" ({fmt(comparison.get('improvement_pct'), '+.1f')}%)")


def mint(
    agent: str = typer.Argument(..., metavar="AGENT", help="The agent to snapshot (e.g. elena)."),
    batch: list[str] | None = BATCH_OPTION,
    notes: str = typer.Option("", "--notes", metavar="TEXT", help="A note kept in the snapshot."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the agent's next numbered snapshot (never overwrites one)."""
    from amatelier.benchmarks import batch_store, snapshots

    with reported(as_json):
        batch = list(dict.fromkeys(batch or []))
        for batch_id in batch:
            batch_store.load_batch(batch_id)  # a wrong id is one clear error before anything is written
        if len(notes) > 10000:
            raise ValueError("--notes is longer than 10000 characters")
        path, doc = snapshots.mint(agent.strip().lower(), batch_ids=batch, notes=notes)
    comparison = doc["benchmarks"]["comparison"]
    if as_json:
        _print_json({"path": str(path), "agent": doc["agent"], "snapshot": doc["snapshot"],
                     "seed_version": doc["seed_version"], "runs": len(doc["benchmarks"]["runs"]),
                     "comparison": comparison, "content_sha256": doc["content_sha256"]})
        return
    print(f"Minted {doc['agent']} snapshot {doc['snapshot']:03d}: {path}")
    print(_numbers_line(comparison))
    print(comparison["statement"])


def list_snapshots(
    agent: str | None = typer.Argument(None, metavar="[AGENT]", help="Only this agent's snapshots."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List minted snapshots (agent, seed version, number, runs, improvement)."""
    from amatelier.benchmarks import snapshots

    with reported(as_json):
        rows = snapshots.listing(agent.strip().lower() if agent else None)
    print_listing(rows, as_json, empty="No snapshots yet. Mint one with: amatelier snapshot mint AGENT --batch BATCH_ID",
                  columns=("agent", "seed version", "snapshot", "created", "runs", "improvement", "notes"),
                  cells=_snapshot_cells)


def _snapshot_cells(row: dict[str, Any]) -> tuple[str, ...]:
    improvement = row.get("improvement")
    return (row["agent"], row["seed_version"], f"{row['snapshot']:03d}", str(row.get("created_at", "?")),
            str(row.get("runs", "?")), f"{improvement:+.3f}" if isinstance(improvement, (int, float)) else "—",
            str(row.get("problem") or row.get("notes") or "")[:40])


def show(
    agent: str = typer.Argument(..., metavar="AGENT", help="The agent."),
    number: str = typer.Argument(..., metavar="NNN", help="Snapshot number (1, 001 or snapshot-001)."),
    seed_version: str | None = typer.Option(None, "--seed-version", metavar="SEED", help=SEED_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a snapshot: persona hashes, skills, runs and the comparison with its uncertainty."""
    from amatelier.benchmarks import snapshots

    with reported(as_json):
        path = snapshots.locate(agent.strip().lower(), number, seed_version)
        doc = snapshots.load(path)
    if as_json:
        _print_json(doc)
        return
    meta = doc["snapshot_metadata"]
    bench = doc["benchmarks"]
    print(f"{doc['agent']} snapshot {doc['snapshot']:03d} ({doc['seed_version']}) minted {meta['created_at']}")
    print(f"file: {path}")
    for name, entry in doc["persona"].items():
        print(f"  {name}: {len(entry['text'])} chars, sha256 {entry['sha256'][:16]}…")
    print(f"skills owned: {', '.join(doc['skills_owned']) or 'none'}")
    print(f"real roundtables scored: {len(doc['score_history'])}")
    suites = ", ".join(f"{s.get('name')} {s.get('version')}" for s in bench["test_suites"]) or "none"
    print(f"benchmark runs: {len(bench['runs'])} (suites: {suites})")
    print(_numbers_line(bench["comparison"]))
    for model in bench["comparison"].get("models_compared", []):
        print(f"  {model['model']}: {_numbers_line(model)}")
    print(bench["comparison"]["statement"])
    if meta.get("notes"):
        print(f"notes: {meta['notes']}")


def diff(
    a: str = typer.Argument(..., metavar="A", help="First snapshot: AGENT:NNN (e.g. elena:1) or a file path."),
    b: str = typer.Argument(..., metavar="B", help="Second snapshot: AGENT:NNN or a file path."),
    seed_version: str | None = typer.Option(None, "--seed-version", metavar="SEED", help=SEED_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """What changed between two snapshots: persona text, behaviours, skills and scores."""
    from amatelier.benchmarks import snapshots

    with reported(as_json):
        first = snapshots.load(snapshots.resolve_ref(a, seed_version))
        second = snapshots.load(snapshots.resolve_ref(b, seed_version))
        result = snapshots.diff(first, second)
    if as_json:
        _print_json(result)
        return
    for text in result["persona"].values():
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if not result["persona"]:
        print("persona files: identical")
    for label in ("behaviors_added", "behaviors_removed", "skills_added", "skills_removed"):
        for item in result[label]:
            print(f"{label.replace('_', ' ')}: {item}")
    for key, pair in result["comparison"].items():
        print(f"{key}: {pair['a']} -> {pair['b']}")
    print(f"runs: {result['runs']['a']} -> {result['runs']['b']}")


def restore(
    agent: str = typer.Argument(..., metavar="AGENT", help="The agent."),
    number: str = typer.Argument(..., metavar="NNN", help="Snapshot number to restore."),
    seed_version: str | None = typer.Option(None, "--seed-version", metavar="SEED", help=SEED_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Put a snapshot's persona (CLAUDE.md, IDENTITY.md, behaviours) back; the current one goes to history."""
    from amatelier.benchmarks import snapshots

    with reported(as_json):
        name = agent.strip().lower()
        doc = snapshots.load(snapshots.locate(name, number, seed_version))
        if doc["agent"] != name:
            raise ValueError(f"snapshot belongs to {doc['agent']}, not {name}")
        kept = snapshots.restore(doc)
    if as_json:
        _print_json({"agent": name, "snapshot": doc["snapshot"], "kept_in_history": kept})
        return
    print(f"Restored {name} snapshot {doc['snapshot']:03d}.")
    for filename, where in kept.items():
        print(f"  {filename}: " + (f"previous text kept in {where}" if where else "unchanged"))


def register(app) -> None:
    """Add `amatelier snapshot ...` to the typer app."""
    snapshot_app.command("mint")(mint)
    snapshot_app.command("list")(list_snapshots)
    snapshot_app.command("show")(show)
    snapshot_app.command("diff")(diff)
    snapshot_app.command("restore")(restore)
    app.add_typer(snapshot_app, name="snapshot")
