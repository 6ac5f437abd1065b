"""CLI commands for benchmark batches: `amatelier batch run|resume|list|show`.

A batch runs every case of a suite (x repeats x persona sets) as benchmark roundtables,
which are judged but change no agent state. Progress goes to stderr; the result table (or
`--json`) to stdout. Errors are one line (with `--json`, one JSON object on stderr), exit 2.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import typer

from amatelier.commands.errors import UserError
from amatelier.commands.output import JSON_OPTION, console, print_listing
from amatelier.commands.output import print_json as _print_json

batch_app = typer.Typer(name="batch", no_args_is_help=True, add_completion=False,
                        help="Run a suite of design decisions as benchmark roundtables, many at once.")


@contextlib.contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """Turn the errors a user can cause into one line (or one JSON object with --json), exit 2."""
    from amatelier.backends.base import BackendUnavailable
    from amatelier.benchmarks.batch_store import BatchError
    from amatelier.benchmarks.ray_engine import RayUnavailable
    from amatelier.benchmarks.snapshots import SnapshotError
    from amatelier.benchmarks.suite import SuiteError
    from amatelier.config import ConfigError
    from amatelier.paths import WorkspaceNotWritable

    try:
        yield
    except (UserError, BatchError, SuiteError, SnapshotError, RayUnavailable, ValueError, ConfigError,
            BackendUnavailable, WorkspaceNotWritable) as exc:
        code = getattr(exc, "exit_code", 2) if isinstance(exc, UserError) else 2
        fail(str(exc), as_json, code)
    except OSError as exc:
        where = f"cannot use {exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}", as_json, 2)


def fail(message: str, as_json: bool, code: int = 2) -> None:
    if as_json:
        print(json.dumps({"error": message, "code": code}), file=sys.stderr, flush=True)
    else:
        print(f"amatelier: error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def _team() -> tuple[str, list[str]]:
    """The resolved backend mode (checked usable) and the known worker names."""
    from amatelier.config import load_config
    from amatelier.llm_backend import make_backend, resolve_mode

    config = load_config()
    mode = resolve_mode(config)
    make_backend(mode, config)  # an unusable provider is one clear line before anything is written
    return mode, sorted((config.get("team") or {}).get("workers", {}))


def parse_csv(csv: str | None) -> tuple[str, ...] | None:
    """`--workers` CSV to de-duplicated, lower-cased names (None when not given)."""
    if csv is None:
        return None
    names: list[str] = []
    for name in (part.strip().lower() for part in csv.split(",")):
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _score(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"


def render_summary(summary: dict[str, Any], *, compare: bool = False) -> None:
    """The per-case table, counts, cost and (when both persona sets ran) the comparison."""
    from rich.markup import escape
    from rich.table import Table

    out = console()
    sets = list((summary.get("options") or {}).get("persona_sets") or [])
    counts = summary["counts"]
    out.print(f"[bold]{summary['batch_id']}[/bold] · {summary['status']} · suite "
                  f"{escape(str((summary.get('suite') or {}).get('name')))} · {counts['done']}/{counts['total']} done, "
                  f"{counts['failed']} failed · ${summary['cost_usd']:.4f}")
    table = Table(show_lines=False)
    table.add_column("case", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    for name in sets:
        table.add_column(f"{name} score (runs)", justify="right", no_wrap=True)
    if len(sets) == 2:
        table.add_column(f"{sets[1]} - {sets[0]}", justify="right", no_wrap=True)
    rows: dict[str, dict[str, Any]] = {}
    for row in summary["cases"]:
        rows.setdefault(row["case"], {"kind": row["kind"]})[row["persona_set"]] = row
    for case, by_set in rows.items():
        cells = [case, escape(str(by_set["kind"] or ""))]  # suite.json text is never markup
        means = []
        for name in sets:
            row = by_set.get(name) or {}
            means.append(row.get("mean_score"))
            failed = f", {row['failed']} failed" if row.get("failed") else ""
            cells.append(f"{_score(row.get('mean_score'))} ({row.get('done', 0)}/{row.get('runs', 0)}{failed})")
        if len(sets) == 2:
            cells.append(f"{means[1] - means[0]:+.3f}" if None not in means else "—")
        table.add_row(*cells)
    out.print(table)
    if summary.get("stopped"):
        out.print(f"stopped: {summary['stopped']}")
    if len(sets) == 2 or compare:
        print(f"team: {summary['comparison']['statement']}")
        if compare:
            for agent, numbers in summary.get("agents", {}).items():
                print(f"{agent}: {numbers['statement']}")
    if summary["status"] in ("interrupted", "failed"):
        out.print(f"finish it with: amatelier batch resume {summary['batch_id']}")


def _drive(batch_id: str, opts: Any, as_json: bool) -> int:
    """Drive the batch with a progress display; returns the exit code."""
    from amatelier.benchmarks import batches, driver
    from amatelier.benchmarks.progress import BatchProgress

    display = BatchProgress(batch_id)
    try:
        report = driver.drive(batch_id, opts, display)
    except KeyboardInterrupt:
        display.end()
        print(f"amatelier: batch {batch_id} interrupted; finish it with: amatelier batch resume {batch_id}",
              file=sys.stderr, flush=True)
        return 130
    if report.unpriced and opts.max_cost_usd is not None:
        print(f"amatelier: warning: {report.unpriced} run(s) have no known price; --max-cost-usd counted "
              "them as $0", file=sys.stderr, flush=True)
    summary = batches.summarise(batch_id)
    summary["this_drive"] = {"started": report.started, "adopted": report.adopted,
                             "skipped": report.skipped, "failed": report.failed}
    if as_json:
        _print_json(summary)
    else:
        render_summary(summary)
    return 0 if summary["counts"]["done"] == summary["counts"]["total"] else 1


def _database_usable() -> None:
    """Open (and migrate) the roundtable database once; a fault raises DatabaseFault (one line, exit 2)."""
    from amatelier.chat.db import open_db

    open_db().close()


def run(
    suite: str = typer.Argument(..., metavar="SUITE", help="A suite folder holding suite.json (or the suite.json)."),
    repeats: int = typer.Option(1, "--repeats", metavar="N", help="Run every case N times (1-100)."),
    parallel: int = typer.Option(2, "--parallel", metavar="P", help="Roundtables at once (1-64)."),
    engine: str = typer.Option("local", "--engine", metavar="local|ray",
                               help="local: a process pool here; ray: Ray tasks (extra 'ray'), on a cluster "
                                    "with --ray-address or RAY_ADDRESS."),
    persona_set: str | None = typer.Option(None, "--persona-set", metavar="current|seed",
                                           help="current: the evolved personas (default); seed: the bundled ones."),
    compare: str | None = typer.Option(None, "--compare", metavar="SETS",
                                       help="Run both persona sets in one batch, e.g. seed,current."),
    workers: str | None = typer.Option(None, "--workers", metavar="CSV",
                                       help="Agents for every case (default: each case's own, else the team)."),
    max_rounds: int | None = typer.Option(None, "--max-rounds", metavar="N", help="Most rounds per roundtable."),
    max_cost_usd: float | None = typer.Option(None, "--max-cost-usd", metavar="X",
                                              help="Start no new roundtable once the batch has cost X dollars."),
    ray_address: str | None = typer.Option(None, "--ray-address", metavar="ADDR",
                                           help="Ray cluster address (default: RAY_ADDRESS, then config "
                                                "benchmarks.ray_address, else a local Ray)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run every case of SUITE as benchmark roundtables (judged; no agent state changes).

    Prints the batch id first; a batch that is stopped or crashes is finished with `amatelier batch resume ID`.
    """
    from amatelier.benchmarks import batches
    from amatelier.benchmarks.driver import DriveOptions

    with reported(as_json):
        sets = batches.parse_persona_sets(persona_set, compare)
        if engine == "ray":
            from amatelier.benchmarks.ray_engine import require_ray

            require_ray()  # before the batch is created, not after
        mode, known = _team()
        _database_usable()  # a damaged or read-only database fails here, before a batch is created
        request = batches.BatchRequest(suite=suite, repeats=repeats, parallel=parallel, engine=engine,
                                       persona_sets=sets, workers=parse_csv(workers), max_rounds=max_rounds,
                                       max_cost_usd=max_cost_usd)
        batch_id = batches.create(request, mode=mode, known_workers=known)
        print(f"batch {batch_id} · suite {suite} · engine {engine}", file=sys.stderr, flush=True)
        code = _drive(batch_id, DriveOptions(parallel=parallel, engine=engine, max_cost_usd=max_cost_usd,
                                             ray_address=ray_address), as_json)
    raise typer.Exit(code)


def resume(
    batch_id: str = typer.Argument(..., metavar="BATCH_ID", help="The batch to finish."),
    parallel: int | None = typer.Option(None, "--parallel", metavar="P", help="Roundtables at once (default: as run)."),
    engine: str | None = typer.Option(None, "--engine", metavar="local|ray", help="Engine (default: as run)."),
    max_cost_usd: float | None = typer.Option(None, "--max-cost-usd", metavar="X",
                                              help="Cost ceiling for the whole batch (default: as run)."),
    ray_address: str | None = typer.Option(None, "--ray-address", metavar="ADDR", help="Ray cluster address."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Finish an interrupted batch: runs already finished are skipped, the rest are run."""
    from amatelier.benchmarks import batch_store, batches
    from amatelier.benchmarks.driver import DriveOptions

    with reported(as_json):
        options = batch_store.load_batch(batch_id).get("options") or {}
        engine = engine or options.get("engine") or "local"
        parallel = parallel if parallel is not None else int(options.get("parallel") or 2)
        cost = max_cost_usd if max_cost_usd is not None else options.get("max_cost_usd")
        batches.check_request(batches.BatchRequest(suite="", parallel=parallel, engine=engine,
                                                   max_cost_usd=cost), [])
        if engine == "ray":
            from amatelier.benchmarks.ray_engine import require_ray

            require_ray()
        _team()
        code = _drive(batch_id, DriveOptions(parallel=parallel, engine=engine, max_cost_usd=cost,
                                             ray_address=ray_address), as_json)
    raise typer.Exit(code)


def list_batches(as_json: bool = JSON_OPTION) -> None:
    """List the batches in this workspace with their status and progress."""
    from amatelier.benchmarks import batch_store, batches

    with reported(as_json):
        rows = []
        for batch_id in batch_store.list_batch_ids():
            try:
                summary = batches.summarise(batch_id)
            except batch_store.BatchError as exc:
                rows.append({"batch_id": batch_id, "status": "unreadable", "problem": str(exc)})
                continue
            rows.append({key: summary[key] for key in ("batch_id", "status", "created_at", "counts", "cost_usd")}
                        | {"suite": (summary.get("suite") or {}).get("name"),
                           "persona_sets": (summary.get("options") or {}).get("persona_sets")})
    print_listing(rows, as_json, empty="No batches yet. Start one with: amatelier batch run SUITE",
                  columns=("batch", "suite", "sets", "status", "done", "failed", "cost"), cells=_batch_cells)


def _batch_cells(row: dict[str, Any]) -> tuple[str, ...]:
    counts = row.get("counts") or {}
    return (row["batch_id"], str(row.get("suite") or ""), ",".join(row.get("persona_sets") or []),
            row["status"], f"{counts.get('done', 0)}/{counts.get('total', 0)}",
            str(counts.get("failed", 0)), f"${row.get('cost_usd', 0):.4f}")


def show(
    batch_id: str = typer.Argument(..., metavar="BATCH_ID", help="The batch to report on."),
    compare: bool = typer.Option(False, "--compare", help="Also compare seed vs current for every agent."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Status, per-case scores and (with both persona sets) the comparison, with its uncertainty."""
    from amatelier.benchmarks import batches

    with reported(as_json):
        summary = batches.summarise(batch_id)
    if as_json:
        _print_json(summary)
    else:
        render_summary(summary, compare=compare)


def register(app) -> None:
    """Add `amatelier batch ...` to the typer app."""
    batch_app.command("run")(run)
    batch_app.command("resume")(resume)
    batch_app.command("list")(list_batches)
    batch_app.command("show")(show)
    app.add_typer(batch_app, name="batch")
