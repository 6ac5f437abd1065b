"""CLI commands for portable agents: `amatelier agent keygen|manifest|pack|verify|export`.

install, list and uninstall live in commands/agent_install.py on the same `agent` group.
Each command is thin: parse, call amatelier.bundles, print (or --json).
"""

from __future__ import annotations

from pathlib import Path

import typer

from amatelier.commands.agent_output import JSON_HELP, note, print_json, reporting

agent_app = typer.Typer(help="Portable, signed agents: author a manifest, pack, sign, verify, install, "
                             "list, uninstall, export.", no_args_is_help=True)


@agent_app.command("keygen")
def keygen(
    out_dir: str = typer.Option(None, "-o", "--out-dir", metavar="DIR",
                                 help="Where to write amatelier.key and amatelier.pub "
                                      "(default: <user data>/keys)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create an Ed25519 signing key pair: DIR/amatelier.key (private, mode 0600) and DIR/amatelier.pub.

    The private key is never printed and never overwritten. The new public key is added to this workspace's trusted keys, so your own packages install here without --trust.
    """
    from amatelier import paths
    from amatelier.bundles import registry
    from amatelier.bundles.signing import generate_keypair

    with reporting():
        pair = generate_keypair(Path(out_dir) if out_dir else paths.user_signing_keys_dir())
        registry.trust(pair.public_key)
    result = {"private_key": str(pair.private_path), "public_key": str(pair.public_path),
              "fingerprint": pair.fingerprint, "trusted_here": True}
    if as_json:
        print_json(result)
        return
    print(f"private key: {pair.private_path} (mode 0600; keep it secret, never share it)")
    print(f"public key:  {pair.public_path} (give this to whoever installs your agents)")
    print(f"fingerprint: {pair.fingerprint}")


@agent_app.command("manifest")
def manifest_command(
    agent: str = typer.Argument(..., metavar="AGENT", help="The agent, e.g. elena."),
    model: list[str] = typer.Option(None, "--model", metavar="M",  # noqa: B008 - typer reads the default
                                    help="A model the agent has a persona variant for (repeatable): one "
                                         "gives schema 1.0, several 2.0. Default: keep the manifest's "
                                         "models, or the agent's configured model."),
    version: str = typer.Option(None, "--version", metavar="V", help="Semantic version, e.g. 1.2.0 "
                                                                     "(default: keep, or 0.1.0)."),
    variant_files: bool = typer.Option(False, "--variant-files",
                                       help="Give each model its own editable copy of the persona under "
                                            "variants/<model>/ (kept if already there)."),
    snapshot: str = typer.Option(None, "--snapshot", metavar="REF",
                                 help="Carry a benchmark snapshot (AGENT:NNN, e.g. elena:1, or a snapshot "
                                      "file) with the agent as snapshot.json; it is verified first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Write or update agents/<name>/manifest.json from the agent's current state.

    Lists the persona, behaviours, memory summary, score history, skills and licence the agent has now. An update keeps your edits (description, role, each model's variant files).
    """
    from amatelier.bundles.author import author_manifest
    from amatelier.bundles.manifest import files_for, model_names, schema_version
    from amatelier.config import load_config

    with reporting():
        manifest, path = author_manifest(agent.strip().lower(), load_config(), models=model or None,
                                         version=version, variant_files=variant_files,
                                         snapshot=snapshot)
    if as_json:
        print_json({"path": str(path), "manifest": manifest})
        return
    models = model_names(manifest)
    print(f"wrote {path}")
    print(f"  {manifest['name']} {manifest['version']} (schema {schema_version(manifest)}), "
          f"models: {', '.join(models) or 'none pinned'}")
    print(f"  files: {', '.join(files_for(manifest, all_models=True))}")


@agent_app.command("pack")
def pack_command(
    agent: str = typer.Argument(..., metavar="AGENT", help="The agent to pack."),
    model: str = typer.Option(None, "--model", metavar="M",
                              help="Which model's variant to pack (required when the manifest has several)."),
    sign: str = typer.Option(None, "--sign", metavar="KEY", help="Sign with this private key (amatelier.key)."),
    out_dir: str = typer.Option(".", "-o", "--out-dir", metavar="DIR",
                                 help="Where to write the package (default: the current directory)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Pack an agent into <name>[-<model>].v<version>.amatelier: a gzip'd tar with the manifest, the files and signature.sig.

    Every file's SHA-256 goes into the manifest's integrity section; with --sign, an Ed25519 signature over them and the manifest too. Prints the package's size and SHA-256.
    """
    from amatelier.bundles.pack import pack_agent

    with reporting():
        result = pack_agent(agent.strip().lower(), Path(out_dir), model=model,
                            key_path=Path(sign) if sign else None)
    if as_json:
        print_json(result.to_dict())
        return
    signed = f"signed by {result.fingerprint}" if result.signed else "unsigned"
    print(f"packed {result.path}")
    print(f"  {result.name} {result.version}" + (f" for {result.model}" if result.model else "")
          + f", {result.files} files, {signed}")
    print(f"  size {result.size} bytes, sha256 {result.sha256}")


@agent_app.command("verify")
def verify_command(
    package: str = typer.Argument(..., metavar="PACKAGE", help="A .amatelier package, an agent directory or git+URL (optionally git+URL#TAG)."),
    key: str = typer.Option(None, "--key", metavar="PUB", help="Require a signature by this public key."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check a package: every file's SHA-256 and the Ed25519 signature. Exit 0 only when all hold.

    A failure names the file (or field) at fault. Without --key, a valid signature by any key passes; the output says whether that key is in your trusted keys.
    """
    from amatelier.bundles import registry
    from amatelier.bundles.signing import load_public_key_b64
    from amatelier.bundles.sources import load_source
    from amatelier.bundles.verify import verify_bundle

    with reporting():
        expected = load_public_key_b64(Path(key)) if key is not None else None
        bundle = load_source(package, progress=None if as_json else note)
        report = verify_bundle(bundle, expected_key=expected)
        trusted = bool(report.public_key and registry.is_trusted(report.public_key))
    result = {**report.to_dict(), "ok": True, "trusted": trusted, "sha256": bundle.sha256,
              "source": bundle.source}
    if as_json:
        print_json(result)
        return
    what = f"{report.name} {report.version}" + (f" for {report.model}" if report.model else "")
    print(f"OK: {what}: {report.files} files match their SHA-256")
    if report.signed:
        state = "a trusted key" if trusted else "a key not in your trusted keys"
        print(f"OK: signature by {report.fingerprint} ({state}), signed at {report.signed_at}")
    else:
        print("unsigned: the hashes hold, but nobody vouches for them")


@agent_app.command("export")
def export_command(
    agent: str = typer.Argument(..., metavar="AGENT", help="The agent to export."),
    fmt: str = typer.Option(..., "--format", metavar="FORMAT", help="Output format: claude-subagent."),
    output: str = typer.Option(None, "-o", "--output", metavar="PATH",
                                help="File or directory to write (default: .claude/agents/<name>.md)."),
    model: str = typer.Option(None, "--model", metavar="M",
                              help="Use this model's persona variant (default: the agent's configured model)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Export an agent's persona for another tool: a Claude Code subagent file (YAML front matter + persona)."""
    from amatelier.bundles.export import export_agent
    from amatelier.config import load_config

    with reporting():
        target = export_agent(agent.strip().lower(), load_config(), fmt=fmt, output=output,
                              model=model, force=force)
    if as_json:
        print_json({"agent": agent, "format": fmt, "path": str(target)})
        return
    print(f"wrote {target}")


def register(app: typer.Typer) -> None:
    """Add the `agent` command group to the typer app."""
    from amatelier.commands import agent_install

    agent_install.register(agent_app)
    app.add_typer(agent_app, name="agent")
