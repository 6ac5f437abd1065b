"""`amatelier team`: who is on the default team, who is retired, and bringing one back."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from amatelier.commands.errors import EXIT_USAGE, UserError

team_app = typer.Typer(help="The default team: list it, retire an agent, restore a retired one.",
                       no_args_is_help=True)
JSON_HELP = "Print JSON instead of a table."


def _fail(message: str, as_json: bool) -> None:
    """One line for people, one JSON object on stderr for scripts; exit 2 either way."""
    if as_json:
        print(json.dumps({"error": message, "code": EXIT_USAGE}), file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    raise UserError(message)


def _team_view() -> dict[str, Any]:
    from amatelier import paths
    from amatelier.config import load_config
    from amatelier.economy import bench
    from amatelier.economy.retirement import retired_agents

    config = load_config()
    team = config.get("team", {})
    default = list(team.get("default_workers") or sorted(team.get("workers", {})))
    retired = retired_agents()
    benched = set(bench.read_benched())
    seated = [w for w in default if w not in retired and w not in benched]
    return {"default_team": default, "seated": seated, "benched": sorted(benched),
            "retired": [{"agent": name, **entry, "path": str(paths.user_agents_dir() / ".retired" /
                                                            str(entry.get("archive", "")))}
                        for name, entry in sorted(retired.items())]}


@team_app.command("list")
def team_list(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """The default team, who of it sits at the table, who is benched and who is retired."""
    view = _team_view()
    if as_json:
        print(json.dumps(view, indent=2))
        return
    typer.echo("seated:  " + (", ".join(view["seated"]) or "nobody"))
    typer.echo("benched: " + (", ".join(view["benched"]) or "nobody"))
    if view["retired"]:
        for row in view["retired"]:
            typer.echo(f"retired: {row['agent']} since {row['retired_at']} ({row['path']}); "
                       f"amatelier team restore {row['agent']} brings it back")
    else:
        typer.echo("retired: nobody")


@team_app.command("retire")
def team_retire(
    agent: str = typer.Argument(..., help="The agent to retire."),
    reason: str = typer.Option("", "--reason", help="Why (kept in retirement.json)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Retire an agent by hand: its whole state moves to agents/.retired/<name>-<date>/ (nothing is deleted).

    It leaves the default team; its sparks, scores and history stay in the database.
    """
    from amatelier.economy.retirement import RetirementError, retire_agent

    try:
        entry = retire_agent(agent, reason=reason or "retired by the user")
    except RetirementError as exc:
        _fail(str(exc), as_json)
        return
    except OSError as exc:
        _fail(f"could not archive {agent}: {exc.strerror or exc}", as_json)
        return
    if as_json:
        print(json.dumps(entry, indent=2))
        return
    typer.echo(f"{entry['agent']} is retired: state archived in agents/.retired/{entry['archive']} "
               f"(amatelier team restore {entry['agent']} brings it back)")


@team_app.command("restore")
def team_restore(
    agent: str = typer.Argument(..., help="The retired agent to bring back."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Bring a retired agent back: its archived state returns to agents/<name>/ and it rejoins the default team."""
    from amatelier.economy.retirement import RetirementError, restore_agent

    try:
        restored = restore_agent(agent)
    except RetirementError as exc:
        _fail(str(exc), as_json)
        return
    except OSError as exc:
        _fail(f"could not restore {agent}: {exc.strerror or exc}", as_json)
        return
    if as_json:
        print(json.dumps(restored, indent=2))
        return
    aside = f" (the folder found in its place was kept as agents/.retired/{restored['set_aside']})" \
        if restored["set_aside"] else ""
    typer.echo(f"{restored['agent']} is back on the default team{aside}")


def register(app: typer.Typer) -> None:
    """Add `amatelier team` to the typer app."""
    app.add_typer(team_app, name="team")
