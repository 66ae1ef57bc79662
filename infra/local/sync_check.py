#!/usr/bin/env python3
"""docker-compose.yml and the native twin (infra/local/up) describe the same topology.

    python infra/local/sync_check.py [compose file]   (needs PyYAML; default docker-compose.yml)

Compares, after replacing each service's address (compose: `<service>:<port>`, twin:
`127.0.0.1:<port>`) with `<service>`:
  - the set of services (compose's one-shot `ready` probe is the twin's readiness wait in
    `up`, so it is the only service allowed on one side only);
  - every environment variable, name and value, per service (PORT, PROXY_PORT and METRICS_PORT
    only by presence: inside containers every service listens on 8080 and serves metrics on
    9090, natively each has its own);
  - the published ports: the page on the frontend, the backend on the proxy, with the same
    defaults (the twin is asked for CHAT_PORT/CHAT_BACKEND_PORT = compose's defaults);
  - redis persistence flags, and that the proxy config is the same template file.
Exits non-zero with a list of differences.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_ONLY = {"ready"}
INTERP = re.compile(r"\$\{(\w+):-([^}]*)\}")
PORT_VARS = {"frontend": "CHAT_PORT", "proxy": "CHAT_BACKEND_PORT"}


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default}, with the defaults (the environment is ignored on purpose)."""
    return INTERP.sub(lambda m: m.group(2), str(value))


def main() -> int:
    compose_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docker-compose.yml"
    compose = yaml.safe_load(compose_path.read_text())
    c_services: dict = compose["services"]

    # Compose defaults for the published ports, read from the ports: entries.
    published_c: dict[str, int] = {}
    defaults: dict[str, str] = {}
    for name, svc in c_services.items():
        for entry in svc.get("ports", []):
            raw_host, container = str(entry).rsplit(":", 1)
            m = INTERP.fullmatch(raw_host)
            if m:
                defaults[m.group(1)] = m.group(2)
            published_c[name] = int(interpolate(raw_host))
            if container != "8080":
                return report([f"compose: {name} publishes container port {container}, not 8080"])

    env = {**os.environ, **defaults, "TWIN_DIR": str(REPO / "target" / "sync-check-unused")}
    out = subprocess.run([sys.executable, str(REPO / "infra" / "local" / "up"), "--print-config"],
                         env=env, check=True, capture_output=True, text=True).stdout
    twin = json.loads(out)
    t_services: dict = twin["services"]

    errors: list[str] = []
    c_names = set(c_services) - COMPOSE_ONLY
    if c_names != set(t_services):
        errors.append(f"services differ: compose {sorted(c_names)}, twin {sorted(t_services)}")

    # Addresses -> <service>. Compose: the container port a service listens on is its PORT
    # (8080) or the well-known one for images (redis 6379).
    c_addr = {n: f"{n}:{s.get('environment', {}).get('PORT', '6379' if n == 'redis' else '8080')}"
              for n, s in c_services.items()}
    c_addr["proxy"] = f"proxy:{c_services['proxy']['environment']['PROXY_PORT']}"
    t_addr = dict(twin["addresses"])
    # Published services are reached by their published ports on both sides, not addresses.
    for published in PORT_VARS:
        c_addr.pop(published, None)
        t_addr.pop(published, None)

    def norm(value: str, addrs: dict[str, str]) -> str:
        value = interpolate(value)
        for name, addr in sorted(addrs.items(), key=lambda kv: -len(kv[1])):
            value = value.replace(addr, f"<{name}>")
        return value

    for name in sorted(c_names & set(t_services)):
        c_env = {k: norm(str(v), c_addr) for k, v in
                 (c_services[name].get("environment") or {}).items()}
        t_env = {k: norm(str(v), t_addr) for k, v in t_services[name]["env"].items()}
        if set(c_env) != set(t_env):
            errors.append(f"{name}: env names differ: only compose {sorted(set(c_env) - set(t_env))},"
                          f" only twin {sorted(set(t_env) - set(c_env))}")
        for key in sorted(set(c_env) & set(t_env)):
            if key in ("PORT", "PROXY_PORT", "METRICS_PORT"):
                continue
            if c_env[key] != t_env[key]:
                errors.append(f"{name}: {key} differs: compose {c_env[key]!r}, twin {t_env[key]!r}")

    published_t = {k: int(v) for k, v in twin["published"].items()}
    if published_c != published_t:
        errors.append(f"published ports differ: compose {published_c}, twin {published_t}")
    for name, var in PORT_VARS.items():
        if var not in defaults:
            errors.append(f"compose: {name}'s published port is not ${{{var}:-...}}")

    c_cmd = [str(x) for x in c_services["redis"].get("command", [])]
    t_args = t_services["redis"].get("args", [])
    for flag in ("--appendonly", "--save"):
        if flag in c_cmd and (flag not in t_args or t_args[t_args.index(flag) + 1]
                              != c_cmd[c_cmd.index(flag) + 1]):
            errors.append(f"redis: {flag} differs: compose {c_cmd}, twin {t_args}")
    if not any(str(v).startswith("redis-data:") or str(v).startswith("redis-data:/data")
               for v in c_services["redis"].get("volumes", [])):
        errors.append("compose: redis has no persistent volume")

    mounts = [str(v).split(":")[0] for v in c_services["proxy"].get("volumes", [])]
    if f"./{t_services['proxy']['template']}" not in mounts:
        errors.append(f"proxy: compose mounts {mounts}, twin renders {t_services['proxy']['template']}")

    return report(errors, len(c_names))


def report(errors: list[str], n: int = 0) -> int:
    if errors:
        print("compose/twin out of sync:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    print(f"ok  docker-compose.yml and infra/local/up agree ({n} services, env, ports, redis, proxy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
