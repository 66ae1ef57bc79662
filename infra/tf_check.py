#!/usr/bin/env python3
"""Terraform files parse, reference only variables and locals they declare, pin secret versions.

    python infra/tf_check.py [dir]      (default infra/terraform; needs python-hcl2)

No provider download, no cloud access: this is what can be checked offline. Fails on
  - a file python-hcl2 cannot parse;
  - var.X used but no `variable "X"` block, or local.X used but not in any `locals` block;
  - a variable declared but never used (dead configuration);
  - a key in terraform.tfvars.example that is not a declared variable;
  - a Secret Manager version that is "latest" (`version = "latest"`, e.g. in secret_key_ref or
    a secret volume's items, or a `*secret_version` variable defaulting to "latest"): a revision
    must read the value it was deployed with, not whatever was added since.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import hcl2

LATEST_VERSION = re.compile(r'\bversion\s*=\s*"latest"')
LATEST_DEFAULT = re.compile(r'variable\s+"([A-Za-z0-9_-]*secret_version)"\s*\{[^}]*?default\s*=\s*"latest"',
                            re.S)

REF = {"var": re.compile(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)"),
       "local": re.compile(r"\blocal\.([A-Za-z_][A-Za-z0-9_-]*)")}


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"(^|\s)(#|//).*$", "", line) for line in text.splitlines())


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "terraform")
    files = sorted(root.glob("*.tf"))
    if not files:
        print(f"tf_check: no .tf files in {root}", file=sys.stderr)
        return 1
    errors: list[str] = []
    declared: dict[str, set[str]] = {"var": set(), "local": set()}
    used: dict[str, dict[str, set[str]]] = {"var": {}, "local": {}}
    for f in files:
        text = f.read_text()
        try:
            doc = hcl2.loads(text)
        except Exception as e:  # noqa: BLE001 - any parse failure is a finding
            errors.append(f"{f.name}: does not parse: {e}")
            continue
        for block in doc.get("variable", []):
            declared["var"].update(k.strip('"') for k in block)
        for block in doc.get("locals", []):
            declared["local"].update(k.strip('"') for k in block)
        body = strip_comments(text)
        for number, line in enumerate(body.splitlines(), start=1):
            if LATEST_VERSION.search(line):
                errors.append(f'{f.name}:{number}: secret version "latest"; pin a version '
                              f'number (a variable or the version resource\'s .version)')
        for name in LATEST_DEFAULT.findall(body):
            errors.append(f'{f.name}: variable {name!r} defaults to "latest"; pin a number')
        for kind, pattern in REF.items():
            for name in pattern.findall(body):
                used[kind].setdefault(name, set()).add(f.name)
    for kind in ("var", "local"):
        for name, where in sorted(used[kind].items()):
            if name not in declared[kind]:
                errors.append(f"{kind}.{name} is used in {', '.join(sorted(where))} "
                              f"but never declared")
    for name in sorted(declared["var"] - set(used["var"])):
        errors.append(f"variable {name!r} is declared but never used")
    example = root / "terraform.tfvars.example"
    if example.exists():
        for line in example.read_text().splitlines():
            m = re.match(r"\s*#?\s*([a-z_][a-z0-9_]*)\s*=", line)
            if m and m.group(1) not in declared["var"]:
                errors.append(f"{example.name}: {m.group(1)} is not a declared variable")
    if errors:
        print("tf_check:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    print(f"ok  {len(files)} Terraform files parse; {len(declared['var'])} variables and "
          f"{len(declared['local'])} locals, every reference declared, every variable used, "
          f"no secret version \"latest\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
