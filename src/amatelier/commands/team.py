"""`amatelier team`: who is on the default team, who is retired, and bringing one back."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer

from amatelier.commands.errors import EXIT_USAGE, UserError
from amatelier.commands.output import JSON_OPTION, emit

team_app = typer.Typer(help="The default team: list it, retire an agent, restore a retired one.",
                       no_args_is_help=True)


def _fail(message: str, as_json: bool) -> NoReturn:
    """One line for people, one JSON object on stderr for scripts; exit 2 either way."""
    if as_json:
        print(json.dumps({"error": message, "code": EXIT_USAGE}), file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    raise UserError(message)


def _retirement_step(step: Callable[[], dict[str, Any]], doing: str, line: Callable[[dict[str, Any]], str],
                     as_json: bool) -> None:
    """Run a retire/restore step and report it; a refusal or a disk fault is the command's one-line error."""
    from amatelier.economy.retirement import RetirementError

    try:
        result = step()
    except RetirementError as exc:
        _fail(str(exc), as_json)
    except OSError as exc:
        _fail(f"could not {doing}: {exc.strerror or exc}", as_json)
    emit(result, line(result), as_json)


def retired_line(entry: dict[str, Any]) -> str:
    """What `team retire` tells a person: where the state went and how to bring it back."""
    return (f"{entry['agent']} is retired: state archived in agents/.retired/{entry['archive']} "
            f"(amatelier team restore {entry['agent']} brings it back)")


def restored_line(restored: dict[str, Any]) -> str:
    """What `team restore` tells a person, naming any folder that was set aside."""
    aside = f" (the folder found in its place was kept as agents/.retired/{restored['set_aside']})" \
        if restored["set_aside"] else ""
    return f"{restored['agent']} is back on the default team{aside}"


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
def team_list(as_json: bool = JSON_OPTION) -> None:
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
    as_json: bool = JSON_OPTION,
) -> None:
    """Retire an agent by hand: its whole state moves to agents/.retired/<name>-<date>/ (nothing is deleted).

    It leaves the default team; its sparks, scores and history stay in the database.
    """
    from amatelier.economy.retirement import retire_agent

    _retirement_step(lambda: retire_agent(agent, reason=reason or "retired by the user"),
                     f"archive {agent}", retired_line, as_json)


@team_app.command("restore")
def team_restore(
    agent: str = typer.Argument(..., help="The retired agent to bring back."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Bring a retired agent back: its archived state returns to agents/<name>/ and it rejoins the default team."""
    from amatelier.economy.retirement import restore_agent

    _retirement_step(lambda: restore_agent(agent), f"restore {agent}", restored_line, as_json)


def register(app: typer.Typer) -> None:
    """Add `amatelier team` to the typer app."""
    app.add_typer(team_app, name="team")
