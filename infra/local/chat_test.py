#!/usr/bin/env python3
"""End-to-end chat through the twin's real proxy, across both backend replicas.

    python infra/local/chat_test.py <run dir>/topology.json

Needs the `websockets` package (infra/local/test installs it). Checks, over real sockets:
  1. the page is served and points browsers at the proxy (BACKEND_URL), not at a replica;
  2. two WebSocket clients on one channel land on different replicas (the proxy's
     X-Chat-Upstream header names the replica that accepted the upgrade);
  3. each gets `welcome` first; a message sent on one replica reaches the client on the other,
     the sender gets its `ack` and its own `message` with the same id; and back again;
  4. a third client joining later gets both messages from history (stored in Redis);
  5. an Origin that is not the page's is refused through the proxy the way a browser can see:
     the upgrade is closed at once with 4403.
Every wait is bounded (FRAME_TIMEOUT per frame).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request
import uuid

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

FRAME_TIMEOUT = 5.0


def fail(why: str) -> None:
    raise SystemExit(f"FAIL: {why}")


# Frames received but not consumed yet, per connection: the sender's `ack` and its own
# `message` come in either order, so waiting for one must not throw the other away.
PENDING: dict[int, list[dict]] = {}


async def next_frame(ws, want: str, pred=lambda f: True) -> dict:
    """The next frame of type `want` matching `pred`; other frames stay pending."""
    pending = PENDING.setdefault(id(ws), [])
    for i, frame in enumerate(pending):
        if frame.get("type") == want and pred(frame):
            return pending.pop(i)
    deadline = time.monotonic() + FRAME_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"no {want!r} frame within {FRAME_TIMEOUT} s (pending: {pending})")
        frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        if frame.get("type") == want and pred(frame):
            return frame
        pending.append(frame)


async def main(topology_path: str) -> None:
    with open(topology_path) as f:
        topo = json.load(f)
    page_port, api_port = topo["published"]["frontend"], topo["published"]["proxy"]
    replicas = {topo["addresses"]["backend-a"]: "backend-a",
                topo["addresses"]["backend-b"]: "backend-b"}
    origin = f"http://localhost:{page_port}"
    base = f"ws://127.0.0.1:{api_port}/ws"
    channel = "twin-" + uuid.uuid4().hex[:8]

    # 1. The page, pointed at the proxy.
    with urllib.request.urlopen(f"http://127.0.0.1:{page_port}/c/{channel}", timeout=5) as r:
        page = r.read().decode()
    if f'data-backend-url="ws://localhost:{api_port}' not in page:
        fail("the page does not point browsers at the proxy")
    print(f"ok  page {origin}/c/{channel} points at ws://localhost:{api_port}")

    # 2. One client per replica. Round robin alternates, but probes may have moved the
    #    rotation: open connections until both replicas are covered (bounded).
    conns: dict[str, tuple] = {}
    spare = []
    for attempt in range(6):
        ws = await connect(f"{base}/{channel}/user{attempt}", origin=origin,
                           open_timeout=FRAME_TIMEOUT)
        upstream = ws.response.headers.get("X-Chat-Upstream", "")
        if upstream not in replicas:
            fail(f"X-Chat-Upstream {upstream!r} is not one of the replicas {sorted(replicas)}")
        welcome = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))
        if welcome.get("type") != "welcome" or welcome.get("client_id") != f"user{attempt}":
            fail(f"first frame is not our welcome: {welcome}")
        if replicas[upstream] in conns:
            spare.append(ws)
        else:
            conns[replicas[upstream]] = (ws, f"user{attempt}")
        if len(conns) == 2:
            break
    else:
        fail(f"6 connections did not cover both replicas: {sorted(conns)}")
    (a, a_id), (b, b_id) = conns["backend-a"], conns["backend-b"]
    print(f"ok  {a_id} on backend-a, {b_id} on backend-b (welcome first on both)")

    # 3. Across replicas, both ways.
    sent = {}
    for (src, src_id, src_name), (dst, _, dst_name) in (
        ((a, a_id, "backend-a"), (b, b_id, "backend-b")),
        ((b, b_id, "backend-b"), (a, a_id, "backend-a")),
    ):
        text, nonce = f"hello from {src_name} {uuid.uuid4().hex[:6]}", f"n-{src_name}"
        await src.send(json.dumps({"type": "send", "message": text, "nonce": nonce}))
        ack = await next_frame(src, "ack", lambda f: f.get("nonce") == nonce)
        own = await next_frame(src, "message", lambda f: f.get("message") == text)
        got = await next_frame(dst, "message", lambda f: f.get("message") == text)
        if not (ack["id"] == own["id"] == got["id"]) or got.get("client_id") != src_id:
            fail(f"ack/message disagree: {ack} {own} {got}")
        sent[ack["id"]] = text
        print(f"ok  {src_name} -> {dst_name}: message {ack['id']} delivered and acked")

    # 4. History from Redis for a late joiner (whichever replica it lands on).
    late = await connect(f"{base}/{channel}/late", origin=origin, open_timeout=FRAME_TIMEOUT)
    late_on = replicas.get(late.response.headers.get("X-Chat-Upstream", ""), "?")
    await next_frame(late, "welcome")
    replayed = [await next_frame(late, "message") for _ in sent]
    if [m["id"] for m in replayed] != sorted(sent) or [m["message"] for m in replayed] != [
        sent[i] for i in sorted(sent)
    ]:
        fail(f"history replay is wrong: {replayed}")
    print(f"ok  late joiner on {late_on} got both messages from history, in order")

    # 5. Origins: the backend behind the proxy refuses foreign ones. A browser cannot read
    # an HTTP status, so a request with an Origin is upgraded and closed with 4403.
    try:
        bad = await connect(f"{base}/{channel}/evil", origin="http://evil.example",
                            open_timeout=FRAME_TIMEOUT)
    except InvalidStatus as e:
        fail(f"foreign Origin got HTTP {e.response.status_code}, want an upgrade closed with 4403")
    try:
        frame = await asyncio.wait_for(bad.recv(), FRAME_TIMEOUT)
        fail(f"a foreign Origin was served: {frame}")
    except ConnectionClosed as e:
        if e.rcvd is None or e.rcvd.code != 4403:
            fail(f"foreign Origin was closed with {e.rcvd}, want 4403")
    print("ok  foreign Origin refused: closed with 4403 and its reason")

    for ws in (a, b, late, *spare):
        await ws.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
