"""The build context as BuildKit sends it: the context directory minus `.dockerignore`.

Patterns follow moby's patternmatcher (what `docker build` uses): each line is cleaned like a
Go path (leading `/` and `./` dropped), `*` and `?` match within one path element, `**`
matches any number of elements (also none), `[...]` is a class, `\\` escapes, `#` lines are
comments, and `!pattern` re-includes. A path is excluded when the last pattern matching it or
one of its parent directories is not an exception. `<Dockerfile>.dockerignore` next to the
Dockerfile takes precedence over the context's `.dockerignore`, as in BuildKit.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Pattern:
    regex: re.Pattern[str]
    exclusion: bool  # a `!` line: re-includes what earlier patterns excluded
    text: str


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """patternmatcher's glob -> regular expression translation."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1:i + 2] == "*":
                i += 1
                if pattern[i + 1:i + 2] == "/":
                    i += 1  # `**/` is `**`
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(ch)
            else:
                body = pattern[i + 1:end]
                out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
                i = end
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def load_patterns(text: str) -> list[Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = posixpath.normpath(line).lstrip("/")
        if cleaned in ("", "."):
            continue
        patterns.append(Pattern(compile_pattern(cleaned), exclusion, raw.strip()))
    return patterns


class Context:
    """A context directory with its ignore rules; paths are relative, `/`-separated."""

    def __init__(self, root: Path, dockerfile: Path):
        self.root = root
        specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
        ignore = specific if specific.is_file() else root / ".dockerignore"
        self.ignore_file = ignore if ignore.is_file() else None
        self.patterns = load_patterns(ignore.read_text()) if self.ignore_file else []

    def excluded(self, rel: str) -> bool:
        """Whether `rel` (or a parent directory of it) is left out of the context."""
        parts = rel.split("/")
        candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # cannot change the outcome
            if any(pattern.regex.match(c) for c in candidates):
                matched = not pattern.exclusion
        return matched

    def files_under(self, rel: str) -> list[str]:
        """Every file (and symlink) in the context at or below `rel`."""
        base = self.root / rel if rel else self.root
        if base.is_file() or base.is_symlink() and not base.is_dir():
            return [] if self.excluded(rel) else [rel]
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dir_rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            dir_rel = "" if dir_rel == "." else dir_rel
            for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                path = f"{dir_rel}/{name}" if dir_rel else name
                if not self.excluded(path):
                    found.append(path)
        return sorted(found)

    def glob(self, pattern: str) -> list[str]:
        """COPY source matching (Go filepath.Match per element) against context entries."""
        pattern = posixpath.normpath(pattern).lstrip("/")
        if pattern == ".":
            return [""]
        if not any(c in pattern for c in "*?["):
            path = self.root / pattern
            return [pattern] if (path.exists() or path.is_symlink()) and not self.excluded(pattern) else []
        parts = pattern.split("/")
        matches = [""]
        for part in parts:
            step = []
            for prefix in matches:
                directory = self.root / prefix if prefix else self.root
                if not directory.is_dir():
                    continue
                for name in sorted(os.listdir(directory)):
                    if fnmatch.fnmatchcase(name, part):
                        candidate = f"{prefix}/{name}" if prefix else name
                        if not self.excluded(candidate):
                            step.append(candidate)
            matches = step
        return matches
