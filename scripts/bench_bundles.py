"""Portable-agent benchmark: time to pack+sign, verify and install an agent with many skills.

Builds an agent with N skill files of S bytes in a temp workspace, then times (in process,
min / median / max of R runs) packing with a signature, verifying the package and
installing it into a second workspace. Prints numbers only; asserts nothing.

    python scripts/bench_bundles.py [--skills 200] [--skill-bytes 4000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def timed(action: Callable[[int], object], runs: int) -> list[float]:
    samples = []
    for run in range(runs):
        started = time.perf_counter()
        action(run)
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def report(label: str, samples: list[float]) -> None:
    print(f"{label:<24} min {min(samples):8.1f} ms   median {statistics.median(samples):8.1f} ms   "
          f"max {max(samples):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skills", type=int, default=200)
    parser.add_argument("--skill-bytes", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from amatelier import paths
    from amatelier.bundles.author import author_manifest
    from amatelier.bundles.install import install
    from amatelier.bundles.pack import pack_agent
    from amatelier.bundles.signing import generate_keypair
    from amatelier.bundles.sources import load_source
    from amatelier.bundles.verify import verify_bundle
    from amatelier.config import load_config

    root = Path(tempfile.mkdtemp(prefix="amatelier-bench-bundles-"))
    try:
        os.environ["AMATELIER_WORKSPACE"] = str(root / "author")
        keys = generate_keypair(root / "keys")
        skills = paths.user_agents_dir() / "elena" / "skills"
        paths.ensure_user_data()
        for index in range(args.skills):
            (skills / f"skill-{index:04d}.md").write_text(f"# skill {index}\n" + "x" * args.skill_bytes)
        author_manifest("elena", load_config(), models=["claude-sonnet-5-5", "gpt-4o"])
        out = root / "out"
        packages: list[str] = []
        pack_ms = timed(lambda run: packages.append(
            pack_agent("elena", out, model="gpt-4o", key_path=keys.private_path).path), args.runs)
        package = packages[-1]
        verify_ms = timed(lambda run: verify_bundle(load_source(package), expected_key=keys.public_key),
                          args.runs)
        os.environ["AMATELIER_WORKSPACE"] = str(root / "target")
        install_ms = timed(lambda run: install(package, as_name=f"nora{run}", trust_path=keys.public_path),
                           args.runs)
        size = Path(package).stat().st_size
        print(f"agent: {args.skills} skills x {args.skill_bytes} bytes; package {size} bytes")
        report("pack + sign", pack_ms)
        report("read + verify", verify_ms)
        report("install", install_ms)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
