"""CLI commands for setting up and inspecting amatelier: config, refresh-seeds, docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from amatelier.commands.errors import UserError


def register(app: typer.Typer) -> None:
    """Add this area's commands to the typer app (help text comes from the docstrings)."""
    app.command("config")(config_command)
    app.command("refresh-seeds")(refresh_seeds_command)
    app.command("docs")(docs_command)


# --------------------------------------------------------------------------- config


def config_command(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (for scripts)."),
    check: bool = typer.Option(False, "--check",
                               help="Exit 2 with setup guidance when no backend can run."),
) -> None:
    """Show the LLM backend that would be used, every mode, keys and paths.

    Never prints a key, only whether each key variable is set. Also creates the
    user-data dir on first use (and reports it when it cannot be written).
    """
    from amatelier.diagnostics import config_report

    report = config_report(bootstrap=True)
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render_config(report)
    if check and report["llm"]["active_mode"] is None:
        raise UserError(report["llm"]["active_mode_error"] or "no LLM backend available")


def _yes(flag: bool) -> str:
    return "[green]yes[/green]" if flag else "[red]no[/red]"


def render_config(report: dict[str, Any]) -> None:
    """The human view: rich tables for modes and keys, plain `name  value` lines for paths."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    llm = report["llm"]
    console.print(f"[bold]amatelier {escape(report['version'])}[/bold]")
    console.print()
    console.print("[bold]LLM backend[/bold]")
    if llm["active_mode"]:
        console.print(f"  active mode: [bold green]{llm['active_mode']}[/bold green]")
    else:
        console.print("  active mode: [bold red]none[/bold red]")
    override = llm["explicit_override"] or "none (AMATELIER_MODE is not set)"
    console.print(f"  explicit override (AMATELIER_MODE): {escape(override)}")
    console.print(f"  configured mode (llm.mode): {escape(str(llm['configured_mode']))}")
    console.print(f"  auto-detect order: {' > '.join(llm['auto_order'])}")
    if llm["active_mode_error"]:
        for line in llm["active_mode_error"].splitlines():
            console.print(f"  [yellow]{escape(line)}[/yellow]", soft_wrap=True)

    modes = Table(expand=False)
    modes.add_column("mode", no_wrap=True)
    modes.add_column("available", no_wrap=True)
    modes.add_column("detected via / what is missing", overflow="fold")
    for name, info in llm["modes"].items():
        marker = " (active)" if name == llm["active_mode"] else ""
        modes.add_row(escape(name + marker), _yes(info["available"]), escape(info["detected_via"]))
    console.print(modes)

    console.print("  model map (role token = model id):")
    width = max(len(name) for name in llm["modes"])
    for name, info in llm["modes"].items():
        pairs = "  ".join(f"{token}={model}" for token, model in info["model_map"].items())
        console.print(f"    {name:<{width}}  {pairs}", markup=False, soft_wrap=True)
    compat, gemini = llm["openai_compat"], llm["gemini"]
    console.print(f"  openai-compat base_url: {escape(str(compat['base_url']))} "
                  f"({escape(compat['base_url_source'])}); key variable: "
                  f"{escape(str(compat['api_key_env'] or 'none found'))}", soft_wrap=True)
    console.print(f"  gemini model: {escape(str(gemini['model']))}; key variable: "
                  f"{escape(str(gemini['api_key_env']))}; base_url: "
                  f"{escape(str(gemini['base_url'] or 'Google default'))}", soft_wrap=True)
    console.print()

    keys = Table(title=None, expand=False)
    keys.add_column("environment variable", no_wrap=True)
    keys.add_column("set", no_wrap=True)
    for name, is_set in report["env"].items():
        keys.add_row(name, _yes(is_set))
    console.print("[bold]Environment[/bold] (values are never shown)")
    console.print(keys)

    console.print("[bold]Paths[/bold]")
    width = max(len(name) for name in report["paths"])
    for name, value in report["paths"].items():
        # soft_wrap keeps each path on one line, so `amatelier config | grep user_data_dir` works
        console.print(f"  {name:<{width}}  {value}", markup=False, soft_wrap=True)
    workspace = report["workspace"]
    console.print()
    if workspace["error"]:
        console.print(f"[bold red]workspace not writable:[/bold red] {escape(workspace['error'])}",
                      soft_wrap=True)
    else:
        state = "ready" if workspace["bootstrapped"] else "not bootstrapped"
        console.print(f"[bold]Workspace[/bold] {state}: {escape(workspace['root'])}", soft_wrap=True)
    override = report["config"]
    console.print(f"  user config override: {escape(override['user_override'])} "
                  f"({'present' if override['user_override_exists'] else 'absent'})", soft_wrap=True)


# --------------------------------------------------------------------------- refresh-seeds


FOOTNOTE = ("Their accumulated MEMORY.md / behaviors.json / metrics.json are untouched — only the "
            "persona rules and identity seeds were overwritten.")


def refresh_seeds_command(
    agent: str | None = typer.Option(None, "--agent", metavar="NAME",
                                     help="Refresh only this agent."),
    force: bool = typer.Option(False, "--force",
                               help="Overwrite persona files you or the therapist changed (each replaced "
                                    "file is kept in the agent's history/ folder first)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
) -> None:
    """Re-copy the bundled persona seeds (CLAUDE.md, IDENTITY.md) into your user-data dir.

    Each file is current (identical to the shipped seed), unedited (the seed copied earlier,
    untouched: the new one is written), evolved by the therapist, or edited by you; the last
    two are kept unless --force, which keeps the replaced file in the agent's history and says
    where. Missing ones are written. MEMORY, behaviors and metrics are never touched.
    """
    from amatelier import paths, seeds

    if agent is not None:
        agent = agent.strip().lower()  # agent names are lower-case, as in --workers
    try:
        plan = seeds.plan_refresh(agent, force=force)
        if not dry_run:
            # first run: create the workspace (seeding absent files), then plan against it
            paths.ensure_user_data()
            plan = seeds.plan_refresh(agent, force=force)
    except seeds.SeedError as exc:
        raise UserError(str(exc), exit_code=exc.exit_code) from None

    if dry_run:
        print("dry run — no files written")
        writes = [item for item in plan if item.action == seeds.WRITE]
        written = 0
    else:
        from amatelier.learning.persona_history import write_persona_file

        writes = seeds.apply_plan(plan, write_file=write_persona_file)
        written = len(writes)

    skips = [item for item in plan if item.action != seeds.WRITE]
    print(f"Refreshed: {written}")
    if dry_run:
        print(f"Would refresh: {len(writes)}")
    for item in writes:
        print(f"  {item.describe()}")
    print(f"Skipped: {len(skips)}")
    for item in skips:
        print(f"  {item.describe()}")
    if written:
        agents = len({item.agent for item in writes})
        print()
        print(f"Note: {agents} agent(s) refreshed. {FOOTNOTE}")


# --------------------------------------------------------------------------- docs


def doc_topics(root: Path) -> dict[str, Path]:
    """topic name (path under the docs dir, no .md) -> file."""
    if not root.is_dir():
        return {}
    return {p.relative_to(root).with_suffix("").as_posix(): p for p in sorted(root.rglob("*.md"))}


def find_doc(topics: dict[str, Path], topic: str) -> Path:
    """Exact topic, or a unique last-segment match (`config` -> `reference/config`)."""
    wanted = topic.strip().strip("/").removesuffix(".md")
    if wanted in topics:
        return topics[wanted]
    matches = [name for name in topics if name.rsplit("/", 1)[-1] == wanted]
    if len(matches) == 1:
        return topics[matches[0]]
    if matches:
        raise UserError(f"docs topic '{topic}' is ambiguous: {', '.join(matches)}")
    known = ", ".join(topics) or "none"
    raise UserError(f"unknown docs topic '{topic}' (available: {known})")


def docs_command(topic: str | None = typer.Argument(None, metavar="TOPIC", help="A topic such as reference/config.")) -> None:
    """List the bundled docs, or print one page (markdown) by TOPIC."""
    from amatelier import paths

    root = paths.bundled_docs_dir()
    topics = doc_topics(root)
    if not topics:
        raise UserError(f"no bundled docs found in {root} (corrupt install? reinstall amatelier)",
                        exit_code=1)
    if topic is None:
        print(f"Bundled docs ({root}):")
        for name in topics:
            print(f"  {name}")
        print()
        print("Print one with: amatelier docs <topic>")
        return
    print(find_doc(topics, topic).read_text(encoding="utf-8"), end="")
