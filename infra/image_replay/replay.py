#!/usr/bin/env python3
"""Replays each image's Dockerfile without a container engine, then runs what it would ship.

    python3 infra/image_replay/replay.py [--keep] [Dockerfile ...]

Without arguments: every Dockerfile that docker-compose.yml builds (each must use the
repository root as its context) and every `--file=` in infra/cloudbuild/*.yaml.

Per Dockerfile:
  1. The stages the final stage copies from (`COPY --from=`) are replayed in order, each in an
     EMPTY temporary folder standing for the stage's `/`. Its base image is not available, so
     the machine's toolchain stands in for it (rustc is printed next to the image tag).
     WORKDIR / ENV / ARG (with the global defaults) are applied; each COPY copies exactly what
     it names from the build context, honouring .dockerignore (see context.py); each RUN runs
     as written with `sh -c` in the stage's WORKDIR, with the stage's ENV and ARGs plus PATH,
     HOME, CARGO_HOME and RUSTUP_HOME of this machine (so the crate registry is not downloaded
     again; CARGO_BUILD_JOBS passes through when set).
     Absolute paths: a RUN step may write outside its WORKDIR (`install ... /out/backend`).
     The stage's own absolute paths (its WORKDIRs, absolute COPY destinations and the paths
     later stages COPY --from it) are rewritten in RUN commands from `/out/...` to
     `<folder>/out/...`; nothing else in a command is changed.
  2. The final stage: its `COPY --from=<stage> <src>` sources must exist in that stage's
     folder (else FAIL: the image could not be assembled), and are copied into a fresh folder
     (mode 0755, readable by any uid). Its binary is then started the way the image would run
     it: the ENTRYPOINT (+ CMD), exec form, with the image's absolute path mapped into that
     folder; only the final stage's ENV (PORT is replaced by a free port: the check requires
     that the final stage sets PORT, so the port the binary binds is the one we give it); as
     the USER's numeric uid:gid through `setpriv --clear-groups`; then GET <probe> must answer
     200 within 60 s. The probe is the Cloud Run startup probe of the service
     (infra/cloudrun/<dir of the Dockerfile>.yaml), /healthz when there is none. The process
     is stopped by its pid.

Exit status 0 when every image replays and answers. Logs of each RUN: target/image-replay/.
Not replayed: the base images themselves (rust:*-slim, distroless), so a package the real
base lacks, or a glibc newer than distroless' is not caught here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
sys.path.insert(0, str(Path(__file__).resolve().parent))
from context import Context  # noqa: E402
from instructions import (  # noqa: E402
    Dockerfile,
    DockerfileError,
    Stage,
    env_pairs,
    expand,
    parse,
    split_flags,
)

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / "target" / "image-replay"
PROBE_TIMEOUT_S = 60
STOP_GRACE_S = 15


class ReplayError(Exception):
    """The image would not build or would not serve; the message says where."""


@dataclass
class StageState:
    """A replayed stage: its folder (its `/`) and where its instructions left it."""

    stage: Stage
    root: Path
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    exposed: list[str] = field(default_factory=list)

    def path(self, image_path: str) -> Path:
        """An absolute or WORKDIR-relative path of the image, inside this stage's folder."""
        joined = os.path.normpath(os.path.join(self.workdir, image_path))
        return self.root / joined.lstrip("/")

    def variables(self) -> dict[str, str | None]:
        return {**self.args, **self.env}


def say(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    """A free port below the ephemeral range, which outgoing connections cannot be holding
    (tools/loadgen/free_port.py says why)."""
    script = REPO / "tools" / "loadgen" / "free_port.py"
    return int(subprocess.check_output([sys.executable, str(script)], text=True))


# ---- the list of images -------------------------------------------------------------------


def images_to_check() -> list[Path]:
    """Every Dockerfile compose builds or Cloud Build builds; compose must build from the root."""
    import yaml  # PyYAML: in infra/check's venv, and in Debian's python3-yaml

    found: list[Path] = []
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name, service in compose.get("services", {}).items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = os.path.normpath(build.get("context", "."))
        dockerfile = REPO / context / build.get("dockerfile", "Dockerfile")
        if context != ".":
            raise ReplayError(f"compose service {name}: build context {context!r}, not the "
                              "repository root the Dockerfiles are written for")
        if not dockerfile.is_file():
            raise ReplayError(f"compose service {name}: {dockerfile.relative_to(REPO)} missing")
        found.append(dockerfile)
    for spec in sorted((REPO / "infra" / "cloudbuild").glob("*.yaml")):
        for m in re.finditer(r"--file=(\S+)", spec.read_text()):
            found.append(REPO / m.group(1))
    unique = sorted(set(found))
    if not unique:
        raise ReplayError("docker-compose.yml builds no image: nothing to check")
    return unique


def probe_path(dockerfile: Path) -> str:
    """The Cloud Run startup probe path for this image, else /healthz."""
    spec = REPO / "infra" / "cloudrun" / f"{dockerfile.parent.name}.yaml"
    if spec.is_file():
        m = re.search(r"startupProbe:\s*\n(?:\s+.*\n)*?\s+path:\s*(\S+)", spec.read_text())
        if m:
            return m.group(1)
    return "/healthz"


# ---- stages -------------------------------------------------------------------------------


def needed_stages(df: Dockerfile) -> list[Stage]:
    """The stages the final stage depends on (COPY --from, FROM <stage>), in file order."""
    by_ref = {s.name: s for s in df.stages if s.name} | {str(s.index): s for s in df.stages}
    needed: set[int] = set()
    todo = [df.stages[-1]]
    while todo:
        stage = todo.pop()
        refs = [stage.base]
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD"):
                flags, _ = split_flags(ins.words())
                if "from" in flags:
                    refs.append(flags["from"])
        for ref in refs:
            dep = by_ref.get(ref)
            if dep is not None and dep.index not in needed and dep is not df.stages[-1]:
                needed.add(dep.index)
                todo.append(dep)
    return [s for s in df.stages if s.index in needed]


def stage_paths(df: Dockerfile, stage: Stage) -> list[str]:
    """Absolute image paths the stage itself establishes, which RUN commands may name."""
    paths: set[str] = set()
    variables = dict(df.global_args)
    for ins in stage.instructions:
        if ins.keyword == "WORKDIR":
            paths.add(expand(ins.args, variables).strip())
        elif ins.keyword == "COPY":
            _, words = split_flags([expand(w, variables) for w in ins.words()])
            if words and words[-1].startswith("/"):
                paths.add(words[-1])
    for other in df.stages:
        for ins in other.instructions:
            if ins.keyword != "COPY":
                continue
            flags, words = split_flags(ins.words())
            if flags.get("from") in (stage.name, str(stage.index)):
                paths.update(w for w in words[:-1] if w.startswith("/"))
    # Rewrite by top-level directory: /out/backend -> /out.
    tops = {"/" + p.strip("/").split("/")[0] for p in paths if p.strip("/")}
    return sorted(tops, key=len, reverse=True)


def rewrite_command(command: str, tops: list[str], root: Path) -> str:
    for top in tops:
        command = re.sub(rf"(?<![\w./$-]){re.escape(top)}(?=/|\s|$|[\"';&|)])",
                         str(root) + top, command)
    return command


def toolchain_env() -> dict[str, str]:
    home = os.environ.get("HOME", str(Path.home()))
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "CARGO_HOME": os.environ.get("CARGO_HOME", f"{home}/.cargo"),
        "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", f"{home}/.rustup"),
        "LANG": "C.UTF-8",
    }
    for passthrough in ("CARGO_BUILD_JOBS", "RUSTUP_TOOLCHAIN", "CARGO_NET_OFFLINE"):
        if passthrough in os.environ:
            env[passthrough] = os.environ[passthrough]
    return env


def copy_entry(src: Path, dest: Path, chmod: str | None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        if dest.exists() or dest.is_symlink():
            dest.unlink()
        dest.symlink_to(os.readlink(src))
    else:
        shutil.copy2(src, dest)  # keeps the mtime, as COPY does
        if chmod:
            dest.chmod(int(chmod, 8))


def do_copy(state: StageState, words: list[str], flags: dict[str, str], ctx: Context,
            stages: dict[str, StageState], label: str) -> None:
    if len(words) < 2:
        raise ReplayError(f"{label}: COPY needs a source and a destination")
    sources, dest = words[:-1], words[-1]
    chmod = flags.get("chmod")
    parents = flags.get("parents") == "true"
    many = len(sources) > 1 or any(c in s for s in sources for c in "*?[")
    dest_is_dir = dest.endswith("/") or many or dest in (".", "./")
    dest_path = state.path(dest)
    copied = 0
    if "from" in flags:
        origin = stages.get(flags["from"])
        if origin is None:
            raise ReplayError(f"{label}: COPY --from={flags['from']}: not a replayed stage "
                              "(copying from an external image is not supported)")
        for source in sources:
            src = origin.path(source)
            if not (src.exists() or src.is_symlink()):
                raise ReplayError(f"{label}: COPY --from={flags['from']} {source}: stage "
                                  f"{flags['from']!r} has no {source} (its RUN steps did not "
                                  "produce it)")
            files = [p for p in sorted(src.rglob("*")) if p.is_file()] if src.is_dir() else [src]
            for f in files:
                rel = f.relative_to(src) if src.is_dir() else Path(f.name)
                target = dest_path / rel if (src.is_dir() or dest_is_dir) else dest_path
                copy_entry(f, target, chmod)
                copied += 1
        say(f"    copied {copied} file(s) from stage {flags['from']}")
        return
    for source in sources:
        matches = ctx.glob(source)
        wildcard = any(c in source for c in "*?[")
        if not matches:
            if wildcard:
                say(f"    note: {source} matches nothing in the context (BuildKit skips it)")
                continue
            why = " (excluded by .dockerignore)" if (ctx.root / source).exists() else ""
            raise ReplayError(f"{label}: COPY {source}: not found in the build context{why}")
        for match in matches:
            is_dir = (ctx.root / match).is_dir() if match else True
            for rel in ctx.files_under(match):
                if parents:
                    target = dest_path / rel
                elif is_dir:
                    inner = os.path.relpath(rel, match) if match else rel
                    target = dest_path / inner
                else:
                    target = dest_path / Path(rel).name if dest_is_dir else dest_path
                copy_entry(ctx.root / rel, target, chmod)
                copied += 1
    say(f"    copied {copied} file(s) from the context")


def replay_stage(df: Dockerfile, stage: Stage, ctx: Context, stages: dict[str, StageState],
                 log_name: str, workroot: Path) -> StageState:
    root = Path(tempfile.mkdtemp(prefix=f"stage-{stage.name or stage.index}-", dir=workroot))
    base = stages.get(stage.base)
    state = StageState(stage, root)
    if base is not None:
        shutil.copytree(base.root, root, symlinks=True, dirs_exist_ok=True)
        state.workdir, state.env = base.workdir, dict(base.env)
        say(f"  FROM {stage.base}: copy of that stage")
    elif stage is df.stages[-1]:
        say(f"  FROM {stage.base}: empty folder (the base image's files are not checked)")
    else:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True,
                               env=toolchain_env()).stdout.strip()
        say(f"  FROM {stage.base}: empty folder; the local toolchain stands in ({rustc})")
    tops = stage_paths(df, stage)
    if tops and stage is not df.stages[-1]:
        say(f"  (in RUN commands, {', '.join(t + '/' for t in sorted(tops))} stand for "
            f"{root}/...)")
    base_env = toolchain_env()
    for ins in stage.instructions:
        label = f"{log_name} line {ins.line}"
        variables = state.variables()
        if ins.keyword == "WORKDIR":
            state.workdir = os.path.normpath(os.path.join(state.workdir,
                                                          expand(ins.args, variables).strip()))
            state.path(".").mkdir(parents=True, exist_ok=True)
            say(f"  WORKDIR {state.workdir}")
        elif ins.keyword == "ENV":
            for name, value in env_pairs(expand(ins.args, variables)):
                state.env[name] = value
            say(f"  ENV {ins.args}")
        elif ins.keyword == "ARG":
            name, eq, default = expand(ins.args, variables).strip().partition("=")
            value = default if eq else df.global_args.get(name)
            if value is not None:
                state.args[name] = value
            say(f"  ARG {name}={value or ''}")
        elif ins.keyword == "COPY":
            words = [expand(w, variables) for w in ins.words()]
            flags, words = split_flags(words)
            say(f"  COPY {' '.join(['--' + k + '=' + v for k, v in flags.items()] + words)}")
            do_copy(state, words, flags, ctx, stages, label)
        elif ins.keyword == "RUN":
            run_step(state, ins.args, ins.is_exec_form(), ins.words, tops, base_env, label,
                     log_name)
        elif ins.keyword == "USER":
            state.user = expand(ins.args, variables).strip()
        elif ins.keyword == "ENTRYPOINT":
            state.entrypoint = ins.words() if ins.is_exec_form() else ["/bin/sh", "-c", ins.args]
        elif ins.keyword == "CMD":
            state.cmd = ins.words() if ins.is_exec_form() else ["/bin/sh", "-c", ins.args]
        elif ins.keyword == "EXPOSE":
            state.exposed += expand(ins.args, variables).split()
        elif ins.keyword in ("LABEL", "HEALTHCHECK", "STOPSIGNAL", "VOLUME"):
            say(f"  {ins.keyword}: not replayed (no effect on the build)")
        else:
            raise ReplayError(f"{label}: {ins.keyword} is not supported by the replay")
    return state


def run_step(state: StageState, args: str, exec_form: bool, words, tops: list[str],
             base_env: dict[str, str], label: str, log_name: str) -> None:
    env = {**base_env, **{k: v for k, v in state.variables().items() if v is not None}}
    if exec_form:
        argv = [rewrite_command(w, tops, state.root) for w in words()]
    else:
        argv = ["sh", "-c", rewrite_command(args, tops, state.root)]
    cwd = state.path(".")
    cwd.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{log_name}.log"
    shown = args if len(args) < 160 else args[:157] + "..."
    say(f"  RUN {shown}")
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n===== {label}: {argv}\n")
        out.flush()
        status = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL).returncode
    took = time.monotonic() - start
    if status != 0:
        tail = log.read_text().splitlines()[-30:]
        for line in tail:
            say(f"    | {line}")
        raise ReplayError(f"{label}: RUN exited with {status} after {took:.0f} s "
                          f"(log: {log.relative_to(REPO)})")
    say(f"    ok ({took:.0f} s)")


# ---- the final stage ----------------------------------------------------------------------


def numeric_user(user: str | None, label: str) -> tuple[int, int]:
    if user is None:
        raise ReplayError(f"{label}: the final stage has no USER (it would run as root)")
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        raise ReplayError(f"{label}: USER {user}: use a numeric uid:gid (no /etc/passwd here)")
    return int(uid), int(gid or uid)


def run_final(final: StageState, probe: str, label: str) -> None:
    argv = final.entrypoint + final.cmd
    if not argv:
        raise ReplayError(f"{label}: the final stage has no ENTRYPOINT or CMD")
    if argv[0].startswith("/bin/sh"):
        raise ReplayError(f"{label}: shell-form ENTRYPOINT/CMD needs a shell the image lacks")
    binary = final.path(argv[0])
    if not binary.is_file():
        raise ReplayError(f"{label}: ENTRYPOINT {argv[0]} is not in the image")
    if "PORT" not in final.env:
        raise ReplayError(f"{label}: the final stage sets no PORT; the check needs it to choose "
                          "a free port")
    uid, gid = numeric_user(final.user, label)
    port = free_port()
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           **final.env, "PORT": str(port)}
    command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
               str(binary), *argv[1:]]
    say(f"  start {argv[0]} as {uid}:{gid}, ENV {sorted(final.env)} with PORT={port} "
        f"(image: {final.env['PORT']}), probe GET {probe}")
    log = LOGS / f"{label}-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=final.path("."), env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                for line in log.read_text().splitlines()[-20:]:
                    say(f"    | {line}")
                raise ReplayError(f"{label}: the binary exited with {proc.returncode} before "
                                  f"{probe} answered")
            try:
                url = f"http://127.0.0.1:{port}{probe}"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        say(f"    GET {probe} -> 200 as uid {uid}")
                        return
                    last = f"status {resp.status}"
            except urllib.error.HTTPError as err:
                last = f"status {err.code}"
            except OSError as err:
                last = str(err)
            time.sleep(0.25)
        raise ReplayError(f"{label}: GET {probe} did not answer 200 within "
                          f"{PROBE_TIMEOUT_S} s ({last})")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def replay(dockerfile: Path, context_dir: Path, keep: bool, label: str) -> None:
    df = parse(dockerfile.read_text())
    ctx = Context(context_dir, dockerfile)
    ignore = ctx.ignore_file.name if ctx.ignore_file else "none"
    say(f"== {label}: {dockerfile} (context {context_dir}, ignore file {ignore}, "
        f"syntax {df.directives.get('syntax', '-')})")
    log = LOGS / f"{label}.log"
    LOGS.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    workroot = Path(tempfile.mkdtemp(prefix=f"image-replay-{label}-"))
    workroot.chmod(0o755)
    try:
        states: dict[str, StageState] = {}
        for stage in needed_stages(df):
            say(f" stage {stage.name or stage.index} (FROM {stage.base})")
            state = replay_stage(df, stage, ctx, states, label, workroot)
            states[str(stage.index)] = state
            if stage.name:
                states[stage.name] = state
        final_stage = df.stages[-1]
        say(f" final stage (FROM {final_stage.base})")
        final = replay_stage(df, final_stage, ctx, states, label, workroot)
        for directory in [final.root, *final.root.rglob("*")]:
            if directory.is_dir():
                directory.chmod(0o755)
        run_final(final, probe_path(dockerfile), label)
    finally:
        if keep:
            say(f"  kept {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dockerfiles", nargs="*", type=Path)
    parser.add_argument("--context", type=Path, default=REPO,
                        help="build context (default: the repository root)")
    parser.add_argument("--keep", action="store_true", help="keep the replay folders")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        say("image replay: needs root to start the binary as uid 65532 (setpriv)")
        return 2
    start = time.monotonic()
    try:
        files = [p.resolve() for p in opts.dockerfiles] or images_to_check()
    except ReplayError as err:
        say(f"FAIL {err}")
        return 1
    failed = []
    for dockerfile in files:
        label = dockerfile.parent.name
        t0 = time.monotonic()
        try:
            replay(dockerfile, opts.context.resolve(), opts.keep, label)
            say(f"ok   {label} ({time.monotonic() - t0:.0f} s)")
        except (ReplayError, DockerfileError, OSError) as err:
            say(f"FAIL {label}: {err}")
            failed.append(label)
    took = time.monotonic() - start
    if failed:
        say(f"image replay: FAILED: {' '.join(failed)} ({took:.0f} s)")
        return 1
    say(f"image replay: {len(files)} image(s) built and answered in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
