"""Prints free TCP ports on 127.0.0.1 below the kernel's ephemeral range (`free_port.py [N]`).

A port the kernel hands out for `bind(0)` lies in the ephemeral range, where the machine's
outgoing connections also take their local ports: between picking it and a server binding
it, a load generator's connection can take it, and the server fails with "address in use".
Below that range only servers that bind on purpose compete.
"""

import random
import socket
import sys


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(n):
    """`n` distinct free ports: each is kept bound until all are picked."""
    low = max(ephemeral_low(), 10_001)
    held = []
    try:
        for _ in range(1000 * n):
            if len(held) == n:
                break
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", random.randrange(10_000, low)))
            except OSError:
                s.close()
                continue
            held.append(s)
        if len(held) < n:
            raise SystemExit("no free port below the ephemeral range")
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print("\n".join(str(port) for port in free_ports(count)))
