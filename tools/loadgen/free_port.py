"""Prints a free TCP port on 127.0.0.1 below the kernel's ephemeral range.

A port the kernel hands out for `bind(0)` lies in the ephemeral range, where the machine's
outgoing connections also take their local ports: between picking it and a server binding
it, a load generator's connection can take it, and the server fails with "address in use".
Below that range only servers that bind on purpose compete.
"""

import random
import socket


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    low = max(ephemeral_low(), 10_001)
    for _ in range(1000):
        port = random.randrange(10_000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port below the ephemeral range")


if __name__ == "__main__":
    print(free_port())
