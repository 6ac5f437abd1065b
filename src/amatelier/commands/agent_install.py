"""CLI commands `amatelier agent install|list|uninstall` (registered on the `agent` group)."""

from __future__ import annotations

from pathlib import Path

import typer

from amatelier.commands.agent_output import JSON_HELP, note, print_json, reporting


def install_command(
    source: str = typer.Argument(..., metavar="SOURCE",
                                 help="A .amatelier package, an agent directory, or git+URL (optionally git+URL#TAG)."),
    as_name: str = typer.Option(None, "--as", metavar="NAME", help="Install under this name instead of the manifest's."),
    trust: str = typer.Option(None, "--trust", metavar="PUB",
                               help="Trust this public key (the signer's amatelier.pub) and add it to your trusted keys."),
    allow_unsigned: bool = typer.Option(False, "--allow-unsigned", help="Install a package nobody signed."),
    force: bool = typer.Option(False, "--force",
                               help="Replace an existing agent of that name (its directory is kept as a backup)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Install an agent: verify every hash and the signature first, then unpack it safely and register it.

    A signature by a key outside your trusted keys needs --trust; an unsigned package needs --allow-unsigned. Archive members are checked before anything is written. The agent can take part at once: amatelier roundtable --workers NAME,...
    """
    from amatelier.bundles.install import install

    with reporting():
        result = install(source, as_name=as_name.strip().lower() if as_name else None, trust_path=Path(trust) if trust else None,
                         allow_unsigned=allow_unsigned, force=force,
                         progress=None if as_json else note)
    if as_json:
        print_json(result.to_dict())
        return
    signed = (f"signed by {result.fingerprint} ({result.trusted_by})" if result.signed else "unsigned")
    print(f"installed {result.name} {result.version}" + (f" for {result.model}" if result.model else "")
          + f" into {result.path}")
    print(f"  {signed}; sha256 {result.sha256}")
    if result.backup:
        print(f"  the agent it replaced is kept in {result.backup}")
    if result.in_roster:
        print(f"  ready: amatelier roundtable --workers {result.name},... (runs on the {result.run_model} "
              "model; set team.workers." + result.name + ".model in config to change it)")
    else:
        print(f"  its role is {result.role}: name it in config team.{result.role}.name to use it")


def list_command(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Installed agents: version, model, origin and signature status."""
    from amatelier.bundles.install import list_installed

    with reporting():
        rows = list_installed()
    if as_json:
        print_json({"agents": rows})
        return
    if not rows:
        print("no installed agents (install one with: amatelier agent install PACKAGE)")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Installed agents")
    for column in ("name", "version", "model", "signature", "source", "installed"):
        table.add_column(column, overflow="fold")
    for row in rows:  # manifest text is the package author's: shown literally, never as markup
        name = row["name"] if row["present"] else f"{row['name']} (directory missing)"
        cells = (name, row.get("version"), row.get("model") or "-", row["signature"],
                 row.get("source"), row.get("installed_at"))
        table.add_row(*(escape(str(cell)) for cell in cells))
    Console(highlight=False).print(table)


def uninstall_command(
    name: str = typer.Argument(..., metavar="NAME", help="The installed agent to remove."),
    keep_state: bool = typer.Option(False, "--keep-state",
                                    help="Keep the agent's directory (persona, memory, skills); only unregister it."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Uninstall an agent: unregister it and remove its directory (or keep it with --keep-state).

    When the install replaced an agent (--force), that agent's backup is put back.
    """
    from amatelier.bundles.install import uninstall

    with reporting():
        result = uninstall(name.strip().lower(), keep_state=keep_state)
    if as_json:
        print_json(result)
        return
    print(f"uninstalled {result['name']} {result['version']}")
    if result["kept"]:
        print(f"  its files are kept in {result['kept']}")
    if result["restored_from"]:
        print(f"  restored the agent it had replaced from {result['restored_from']}")


def register(agent_app: typer.Typer) -> None:
    agent_app.command("install")(install_command)
    agent_app.command("list")(list_command)
    agent_app.command("uninstall")(uninstall_command)
