"""Dockerfile parsing: the subset our images use, read the way BuildKit reads it.

Parser directives (`# syntax=`) at the top, comments, `\\` line continuations (comment lines
inside a continued instruction are dropped, as BuildKit does), JSON and shell forms, global
`ARG`s before the first `FROM` (usable in `FROM`), and `${VAR}` / `$VAR` / `${VAR:-default}`
/ `${VAR:+word}` substitution in the instructions that expand variables. `RUN` is never
expanded here: its shell does that, with the stage's ENV and ARGs in its environment.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

# Instructions whose arguments Docker expands with ENV/ARG values.
EXPANDED = {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
            "WORKDIR", "ARG"}
VAR = re.compile(r"\$(?:\{(\w+)(?::([-+])([^}]*))?\}|(\w+))")


class DockerfileError(Exception):
    """The Dockerfile uses something this replay does not understand, or is malformed."""


@dataclass
class Instruction:
    """One instruction: its keyword, its raw argument text and its source line."""

    keyword: str
    args: str
    line: int

    def words(self) -> list[str]:
        """Exec (JSON array) form as is, otherwise shell-like words."""
        text = self.args.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        return shlex.split(text)

    def is_exec_form(self) -> bool:
        text = self.args.strip()
        if not text.startswith("["):
            return False
        try:
            return isinstance(json.loads(text), list)
        except json.JSONDecodeError:
            return False


@dataclass
class Stage:
    """A `FROM` and the instructions up to the next one."""

    index: int
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    directives: dict[str, str]
    global_args: dict[str, str | None]
    stages: list[Stage]

    def stage(self, ref: str) -> Stage:
        """A stage by name or index, as `COPY --from=` names it."""
        for stage in self.stages:
            if stage.name == ref or str(stage.index) == ref:
                return stage
        raise DockerfileError(f"no stage named {ref!r}")


def expand(text: str, variables: dict[str, str | None]) -> str:
    """Docker's variable substitution (unset variables expand to nothing)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = variables.get(name)
        if m.group(2) == "-":
            return value if value else m.group(3)
        if m.group(2) == "+":
            return m.group(3) if value else ""
        return value or ""

    return VAR.sub(one, text)


def logical_lines(text: str) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Parser directives, then (first line number, joined instruction) pairs."""
    directives: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    # Directives: `# key=value` lines before anything else (a blank line or comment ends them).
    while i < len(lines):
        m = re.fullmatch(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*", lines[i])
        if not m:
            break
        directives[m.group(1).lower()] = m.group(2)
        i += 1
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(lines[i:], start=i + 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # comment (also inside a continued instruction) or blank line
        if not current:
            start = number
        if raw.rstrip().endswith("\\"):
            current.append(raw.rstrip()[:-1])
            continue
        current.append(raw)
        out.append((start, " ".join(part.strip() for part in current if part.strip())))
        current = []
    if current:
        out.append((start, " ".join(part.strip() for part in current if part.strip())))
    return directives, out


def parse(text: str) -> Dockerfile:
    directives, lines = logical_lines(text)
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for number, line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = expand(args, global_args).split()
            if len(words) == 3 and words[1].upper() == "AS":
                stages.append(Stage(len(stages), words[0], words[2]))
            elif len(words) == 1:
                stages.append(Stage(len(stages), words[0], None))
            else:
                raise DockerfileError(f"line {number}: FROM {args!r} not understood")
        elif not stages:
            if keyword != "ARG":
                raise DockerfileError(f"line {number}: {keyword} before the first FROM")
            name, eq, default = args.strip().partition("=")
            global_args[name] = expand(default, global_args) if eq else None
        else:
            stages[-1].instructions.append(Instruction(keyword, args.strip(), number))
    if not stages:
        raise DockerfileError("no FROM")
    return Dockerfile(directives, global_args, stages)


def split_flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """`--from=build --chmod=755 a b` -> ({'from': 'build', 'chmod': '755'}, ['a', 'b'])."""
    flags: dict[str, str] = {}
    rest = list(words)
    while rest and rest[0].startswith("--"):
        name, _, value = rest.pop(0)[2:].partition("=")
        flags[name] = value if value else "true"
    return flags, rest


def env_pairs(args: str) -> list[tuple[str, str]]:
    """`ENV a=1 b="x y"` or the legacy `ENV a 1`."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return [(words[0], args.strip()[len(words[0]):].strip())]
    pairs = []
    for word in words:
        name, eq, value = word.partition("=")
        if not eq:
            raise DockerfileError(f"ENV {args!r}: {word!r} has no '='")
        pairs.append((name, value))
    return pairs
