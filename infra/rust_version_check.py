#!/usr/bin/env python3
"""The declared Rust versions are true for what Cargo.lock pins.

    python3 infra/rust_version_check.py

Reads `cargo metadata --format-version 1 --locked` (every locked package with its
`rust_version`) and requires:
  - every workspace member's `rust-version` (the workspace's `[workspace.package]` value) to
    be at least the highest `rust-version` among the locked packages: an older compiler
    cannot build a dependency, so a lower value would be a promise the build cannot keep;
  - the Rust image each Dockerfile builds with (`FROM rust:<version>...`, after the
    `ARG RUST_VERSION` default is applied) to be at least that too.
Clippy's `incompatible_msrv` lint, run by CI, checks our own code against the same value.
Exits non-zero with the packages that need more than what is declared.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True  # no __pycache__ next to the sources
sys.path.insert(0, str(REPO / "infra" / "image_replay"))
from instructions import parse  # noqa: E402

DOCKERFILES = ["backend/Dockerfile", "frontend/Dockerfile"]


def version(text: str) -> tuple[int, ...]:
    """'1.89' and '1.89.0' compare equal."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main() -> int:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=REPO, check=True, capture_output=True, text=True).stdout)
    members = set(meta["workspace_members"])
    locked = [p for p in meta["packages"] if p["id"] not in members and p.get("rust_version")]
    if not locked:
        print("rust-version: no locked package declares a rust-version")
        return 1
    need = max(version(p["rust_version"]) for p in locked)
    needers = sorted(f"{p['name']} {p['version']}" for p in locked
                     if version(p["rust_version"]) == need)
    need_text = ".".join(map(str, need))
    print(f"highest rust-version among {len(locked)} locked packages: {need_text} "
          f"({', '.join(needers)})")

    errors = []
    for package in meta["packages"]:
        if package["id"] not in members:
            continue
        declared = package.get("rust_version")
        if declared is None:
            errors.append(f"{package['name']}: no rust-version")
        elif version(declared) < need:
            errors.append(f"{package['name']}: rust-version {declared} < {need_text}")
        else:
            print(f"  {package['name']}: rust-version {declared}")
    for path in DOCKERFILES:
        df = parse((REPO / path).read_text())
        tags = [m.group(1) for s in df.stages
                if (m := re.fullmatch(r"(?:docker\.io/(?:library/)?)?rust:(\d+\.\d+(?:\.\d+)?)"
                                      r"(?:-\S*)?", s.base))]
        if not tags:
            errors.append(f"{path}: no `FROM rust:<version>` stage")
        for tag in tags:
            if version(tag) < need:
                errors.append(f"{path}: builds with rust:{tag} < {need_text}")
            else:
                print(f"  {path}: rust:{tag}")
    for error in errors:
        print(f"FAIL {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
