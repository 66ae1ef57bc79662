#!/usr/bin/env python3
"""The replay itself must be able to fail: its .dockerignore rules and its run-as-nonroot step
checked on small fixtures (seconds, no cargo).

    python3 infra/image_replay/selftest.py      (root: the fixture runs as uid 65532)

Fixture: a build stage that installs a tiny HTTP server (python3) to /out/serve with a mode
given by an ARG, and a final stage that runs it as 65532 with PORT. Expected: mode 0755
answers; mode 0700 cannot be read by uid 65532 and fails; a COPY of a file .dockerignore
excludes fails; a final stage without USER fails.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
sys.path.insert(0, str(Path(__file__).resolve().parent))
from context import Context, load_patterns  # noqa: E402
from replay import ReplayError, replay  # noqa: E402

# (patterns, path, excluded?) after moby's patternmatcher.
IGNORE_CASES = [
    ("target/", "target/release/backend", True),
    ("**/target/", "backend/target/debug/x", True),
    ("**/target/", "a/b/target/c", True),
    ("**/target/", "targets/x", False),
    ("docs/", "docs/README.md", True),
    ("**/*.rdb", "dump.rdb", True),
    ("**/*.rdb", "a/b/dump.rdb", True),
    ("*.md", "docs/a.md", False),
    ("*.md\n!README.md", "README.md", False),
    ("**\n!backend/src", "backend/src/lib.rs", False),
    ("**\n!backend/src", "backend/Cargo.toml", True),
    ("/infra", "infra/check", True),
    ("ba?kend", "backend/src/x", True),
    ("[a-c]*/", "crates/protocol/Cargo.toml", True),
]

DOCKERFILE = """# syntax=docker/dockerfile:1
ARG MODE=0755
FROM debian:bookworm-slim AS build
ARG MODE
WORKDIR /src
COPY {source} ./
RUN install -D -m "$MODE" serve.py /out/serve
FROM gcr.io/distroless/python3-debian12:nonroot
COPY --from=build /out/serve /usr/local/bin/serve
ENV PORT=8080
{user}
ENTRYPOINT ["/usr/local/bin/serve"]
"""

SERVER = """#!/usr/bin/python3
import http.server, os
class Probe(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Probe).serve_forever()
"""


def ignore_cases() -> list[str]:
    failures = []
    for patterns, path, expected in IGNORE_CASES:
        ctx = Context.__new__(Context)
        ctx.patterns = load_patterns(patterns)
        if ctx.excluded(path) != expected:
            failures.append(f".dockerignore {patterns!r}: {path} excluded={not expected}")
    return failures


def fixture(tmp: Path, name: str, mode: str, source: str = "serve.py",
            user: str = "USER 65532:65532") -> str | None:
    """Replays one fixture; None when it built and answered, else why not."""
    context = tmp / name
    (context / "image").mkdir(parents=True)
    (context / "serve.py").write_text(SERVER)
    (context / "ignored.py").write_text(SERVER)
    (context / ".dockerignore").write_text("ignored.py\n")
    dockerfile = context / "image" / "Dockerfile"
    text = DOCKERFILE.format(source=source, user=user).replace("MODE=0755", f"MODE={mode}")
    dockerfile.write_text(text)
    try:
        replay(dockerfile, context, keep=False, label=f"selftest-{name}")
        return None
    except ReplayError as err:
        return str(err)


def main() -> int:
    failures = ignore_cases()
    with tempfile.TemporaryDirectory(prefix="image-replay-selftest-") as tmp:
        # (name, fixture arguments, None to pass or the start of the expected failure)
        cases = [
            ("readable", dict(mode="0755"), None),
            ("owner-only", dict(mode="0700"), "the binary exited"),
            ("ignored-source", dict(mode="0755", source="ignored.py"), "COPY ignored.py: not found"),
            ("no-user", dict(mode="0755", user=""), "the final stage has no USER"),
        ]
        for name, kwargs, expected in cases:
            outcome = fixture(Path(tmp), name, **kwargs)
            if (outcome is None) != (expected is None) or (expected and expected not in outcome):
                failures.append(f"fixture {name}: expected {expected or 'to pass'}, got "
                                f"{outcome or 'a pass'}")
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        return 1
    print(f"image replay selftest: {len(IGNORE_CASES)} ignore rules, 4 fixtures as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
