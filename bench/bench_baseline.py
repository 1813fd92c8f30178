"""Physical floors of this machine, measured in the same run as everything else.

An in-process handler call, a pipe round trip to a warm process, a loopback HTTP request to a
bare asyncio server over keep-alive, and a fresh `python -c pass`. They say how close each samlite
figure is to what the hardware and CPython allow here.

Run alone: `.venv/bin/python bench/bench_baseline.py`; the suite calls `run(quick)`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_runtime import pipe_row
from bench.common import Row, median, pct, print_table

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def handler(event: dict, context: object) -> dict:
    return {"statusCode": 200, "body": "hello"}


def in_process_ns(calls: int) -> float:
    """ns per call of a trivial handler, best of 5 timed loops (the loop overhead included)."""
    event: dict = {}
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter_ns()
        for _ in range(calls):
            handler(event, None)
        best = min(best, (time.perf_counter_ns() - t) / calls)
    return best


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # A keep-alive responder that answers each request head with a fixed 200; no parsing beyond the head.
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        writer.close()


async def _loopback(n: int) -> list[float]:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    samples = []
    for i in range(n + 200):  # the first 200 warm up
        t = time.perf_counter()
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(5)
        if i >= 200:
            samples.append(time.perf_counter() - t)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return samples


def loopback_http(n: int) -> tuple[float, float]:
    """(p50, p99) µs of a keep-alive GET to a bare asyncio server in the same process (default loop)."""
    samples = asyncio.run(_loopback(n))
    return pct(samples, 0.5) * 1e6, pct(samples, 0.99) * 1e6


def python_pass_ms(runs: int) -> float:
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - t) * 1000)
    return median(times[1:])


def run(quick: bool = False) -> list[Row]:
    calls = 200_000 if quick else 1_000_000
    http_n = 1000 if quick else 5000
    runs = 5 if quick else 20
    ns = in_process_ns(calls)
    p50, p99 = loopback_http(http_n)
    return [
        Row("floor: in-process handler call", ns, "ns", note=f"best of 5 loops of {calls:,} calls"),
        pipe_row(500 if quick else 2000),
        Row("floor: loopback HTTP request to a bare asyncio server, p50", p50, "µs", "≈ 80 µs (measured floor)", None,
            note=f"p99 {p99:.0f} µs, keep-alive, client and server in one process, n={http_n:,}"),
        Row("floor: python -c pass", python_pass_ms(runs), "ms", "≈ 10 ms (measured floor)", None,
            note=f"median of {runs}"),
    ]


if __name__ == "__main__":
    print_table(run(), "physical floors")
