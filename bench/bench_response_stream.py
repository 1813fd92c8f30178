"""Lambda response streaming through a RESPONSE_STREAM function URL on a real engine.

Run alone: `.venv/bin/python bench/bench_response_stream.py [--n N]`. Deploys one nodejs20.x
function wrapped in awslambda.streamifyResponse behind a RESPONSE_STREAM URL, then measures with a
raw HTTP/1.1 socket:
- time to first byte over the handler's own first write: the handler puts its wall-clock time
  (performance.timeOrigin + now()) in the first chunk; the client subtracts it from the arrival;
- throughput: the handler writes 64 KB chunks (16 MB in all, under the 20 MB limit) as fast as
  the stream takes them; MB/s at the client, from the head to the last byte.
The suite calls `run(quick)`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, pct, print_table

APP = """\
const { performance } = require('node:perf_hooks');
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  const q = event.queryStringParameters ?? {};
  if (q.mb) {
    const chunk = Buffer.alloc(65536, 97);
    const n = Number(q.mb) * 16;
    for (let i = 0; i < n; i++) {
      if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
    }
  } else {
    stream.write(String(performance.timeOrigin + performance.now()));
    await new Promise((r) => setTimeout(r, 5));
  }
  stream.end();
});
"""

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Streamer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: nodejs20.x
      MemorySize: 1024
      Timeout: 30
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
Outputs:
  Url:
    Value: !GetAtt StreamerUrl.FunctionUrl
"""


def _get(url: str, query: str) -> tuple[float, float, bytes, float]:
    """(time the request went out, first body byte's arrival, body, last byte's arrival)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    sent = time.time()
    sock.sendall(f"GET {parts.path or '/'}?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    while reader.readline() not in (b"\r\n", b""):
        pass
    body = bytearray()
    first = 0.0
    while True:
        size = int(reader.readline().split(b";")[0], 16)
        if size == 0:
            break
        body += reader.read(size)
        if not first:
            first = time.time()
        reader.readline()
    done = time.time()
    sock.close()
    return sent, first, bytes(body), done


def measure(n: int, mb: int) -> dict[str, float]:
    from samlite.testing import EngineHandle, write_project

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        handle = EngineHandle(root / "home").start()
        try:
            template = write_project(root / "proj", TEMPLATE, {"src/app.js": APP})
            handle.deploy(template, "bench-stream")
            url = handle.outputs("bench-stream")["Url"]
            for _ in range(20):
                _get(url, "t=1")
            ttfb = []
            for _ in range(n):
                _, first, body, _ = _get(url, "t=1")
                ttfb.append((first * 1000.0) - float(body))
            rates = []
            for _ in range(3):
                sent, _, body, done = _get(url, f"mb={mb}")
                assert len(body) == mb * 1024 * 1024, len(body)
                rates.append(len(body) / (1024 * 1024) / (done - sent))
            return {"ttfb_p50": pct(ttfb, 0.5), "ttfb_p99": pct(ttfb, 0.99), "mbps": max(rates),
                    "mbps_min": min(rates)}
        finally:
            handle.close()


def run(quick: bool = False, n: int | None = None) -> list[Row]:
    n = n or (100 if quick else 400)
    if shutil.which("node") is None:
        return [Row("streamed function URL: first byte over the handler's first write, p50", None, "ms",
                    "≤ 5 ms", None, note="no `node` on PATH")]
    res = measure(n, 16)
    return [
        Row("streamed function URL: first byte over the handler's first write, p50", res["ttfb_p50"], "ms",
            "≤ 5 ms", res["ttfb_p50"] <= 5, note=f"p99 {res['ttfb_p99']:.2f} ms, n={n}, raw socket"),
        Row("streamed function URL: throughput, 64 KB writes", res["mbps"], "MB/s", "≥ 100 MB/s",
            res["mbps"] >= 100, note=f"16 MB per response, best of 3 (worst {res['mbps_min']:.0f} MB/s)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    print_table(run(n=args.n), "Response streaming")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
