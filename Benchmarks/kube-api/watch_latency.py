"""Watch latency through `kelson server`: WATCHERS watch streams (HTTP/1.1 over TLS, one per connection, as
informers hold them) on configmaps; one writer creates configmaps at RATE per second and notes when each create is
acknowledged; every watcher notes when the event arrives. Prints the latency percentiles (ms) from acknowledgement
to arrival, over every (event, watcher) pair, as JSON. Standard library only.

    python3 watch_latency.py HOST PORT TOKEN [WATCHERS] [EVENTS] [RATE]
"""

import asyncio
import json
import ssl
import sys
import time

HOST, PORT, TOKEN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
WATCHERS = int(sys.argv[4]) if len(sys.argv) > 4 else 100
EVENTS = int(sys.argv[5]) if len(sys.argv) > 5 else 200
RATE = float(sys.argv[6]) if len(sys.argv) > 6 else 50
PATH = "/api/v1/namespaces/default/configmaps"


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def request(method, path, body=None):
    reader, writer = await asyncio.open_connection(HOST, PORT, ssl=context())
    data = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n")
    writer.write(head.encode() + data)
    await writer.drain()
    response = await reader.read()
    writer.close()
    return response


async def watcher(version, arrivals, ready):
    reader, writer = await asyncio.open_connection(HOST, PORT, ssl=context())
    head = (f"GET {PATH}?watch=true&resourceVersion={version} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Authorization: Bearer {TOKEN}\r\n\r\n")
    writer.write(head.encode())
    await writer.drain()
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    ready.release()
    buffer = b""
    seen = 0
    while seen < EVENTS:
        size_line = await reader.readline()
        size = int(size_line.strip() or b"0", 16)
        if size == 0:
            break
        chunk = await reader.readexactly(size + 2)
        buffer += chunk[:-2]
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            now = time.monotonic()
            event = json.loads(line)
            if event["type"] == "ADDED":
                arrivals.append((event["object"]["metadata"]["name"], now))
                seen += 1
    writer.close()


async def main():
    listing = await request("GET", PATH + "?limit=1")
    body = listing.split(b"\r\n\r\n", 1)[1]
    if b"\r\n" in body.split(b"{", 1)[0]:
        body = b"{" + body.split(b"{", 1)[1]
    version = json.loads(body[: body.rfind(b"}") + 1])["metadata"]["resourceVersion"]
    arrivals = []
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(watcher(version, arrivals, ready)) for _ in range(WATCHERS)]
    for _ in range(WATCHERS):
        await ready.acquire()
    started, acknowledged = {}, {}
    for index in range(EVENTS):
        name = f"latency-{index}"
        started[name] = time.monotonic()
        await request("POST", PATH, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": str(index)}})
        acknowledged[name] = time.monotonic()
        await asyncio.sleep(1 / RATE)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)

    def percentiles(since):
        values = sorted((arrived - since[name]) * 1000 for name, arrived in arrivals if name in since)
        pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 2)
        return {"p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99), "max_ms": round(values[-1], 2)}

    # From the acknowledgement (the client has the answer) and from the start of the write (its whole round trip:
    # TLS connect, request, commit, answer): negative means the watchers had the event before the writer had its answer.
    print(json.dumps({"watchers": WATCHERS, "events": EVENTS, "deliveries": len(arrivals),
                      "after_acknowledgement": percentiles(acknowledged), "after_write_start": percentiles(started)}))


asyncio.run(main())
