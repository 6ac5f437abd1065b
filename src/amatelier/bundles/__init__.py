"""Portable, signed agents: manifests, packages, Ed25519 signatures, install and the registry.

An evolved agent (persona, behaviours, memory, skills, score history) is packed into one
gzip'd tar with a manifest that lists the SHA-256 of every file and, when signed, an
Ed25519 signature over them. Installing verifies everything in memory before a single
byte is written to the workspace. Modules:

- `names`     agent names, model-name normalisation, semver, provider and role-token guesses
- `schema`    JSON Schema validation of manifest.json (docs/schemas/agent_manifest.schema.json)
- `manifest`  the rules the schema cannot express (1.0 vs 2.0, unique paths) and model selection
- `author`    write or update agents/<name>/manifest.json from the agent's current state
- `files`     safe relative paths and bounded, symlink-free reads of a directory
- `archive`   write and read the gzip'd tar safely (members checked before anything is read)
- `signing`   key pairs, the canonical message, sign and verify (the `cryptography` library)
- `pack`      build `<name>[-<model>].v<version>.amatelier`
- `verify`    check every hash, the signature and trust
- `sources`   load a bundle from a package, a directory or a git URL
- `registry`  `<user data>/agents/registry.json` and the trusted keys
- `install`   install and uninstall
- `export`    other tools' formats (Claude Code subagent)

A front door beside the CLI: it may import the bottom layer (paths, config, atomicio,
persona_files) and nothing of the debate or the after-debate steps; only commands/ imports it.
At run time the roster reads registry.json through config, and workers pick persona
variants through persona_files, so no engine code needs this package.
"""

from __future__ import annotations


class BundleError(Exception):
    """A manifest, package, key or install request is unusable; the message names what and why."""
