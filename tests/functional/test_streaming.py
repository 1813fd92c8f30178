"""Response streaming: awslambda.streamifyResponse in the Node runtime, through the InvokeService
(ResponseSink), a RESPONSE_STREAM function URL and InvokeWithResponseStream."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from invoke_lab import lab, run

from samlite.core.runtime.streaming import HTTP_INTEGRATION_TYPE, PRELUDE_END, ResponseSink

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

# Writes `n` chunks `gap` ms apart; after each write it waits for event.gate (a file) when given,
# so a test can hold the handler until it has seen a chunk. Fails after `fail_after` chunks.
STREAM_APP = """\
const fs = require('node:fs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.http) {
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201, headers: { 'content-type': 'text/plain', 'x-streamed': 'yes' }, cookies: ['a=1'] });
  } else if (event.type) {
    responseStream.setContentType(event.type);
  }
  const n = event.n ?? 5;
  for (let i = 0; i < n; i++) {
    if (event.fail_after === i) throw new Error('broke after ' + i);
    responseStream.write(event.size ? Buffer.alloc(event.size, 97) : `chunk ${i}\\n`);
    if (event.gate) {
      while (!fs.existsSync(event.gate + '.' + i)) await sleep(10);
    } else if (event.gap) {
      await sleep(event.gap);
    }
  }
  if (event.hang) await sleep(60000);
  console.log('wrote', n);
  responseStream.end();
});
"""


def _chunks_reader(sink: ResponseSink, task: asyncio.Task) -> tuple[list[bytes], asyncio.Task]:
    got: list[bytes] = []

    async def read() -> None:
        async for chunk in sink.chunks(task):
            got.append(chunk)

    return got, asyncio.get_running_loop().create_task(read())


async def _wait_for(cond, deadline_s: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + deadline_s
    while not cond():
        assert asyncio.get_running_loop().time() < end, "deadline passed"
        await asyncio.sleep(0.01)


def test_sink_gets_chunks_before_the_handler_finishes(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path) as L:
            L.add("s", {"app.js": STREAM_APP}, runtime="nodejs20.x", handler="app.handler", timeout=10)
            gate = str(tmp_path / "gate")
            sink = ResponseSink()
            task = asyncio.get_running_loop().create_task(L.invoke("s", {"n": 3, "gate": gate}, stream=sink))
            got, reader = _chunks_reader(sink, task)
            for i in range(3):
                # the handler is held at the gate after write i: chunk i arrived while it runs
                await _wait_for(lambda i=i: len(got) > i)
                assert not task.done()
                Path(f"{gate}.{i}").touch()
            result = await task
            await reader
            assert b"".join(got) == b"chunk 0\nchunk 1\nchunk 2\n"
            assert result.function_error is None and result.streamed == len(b"".join(got))
            assert sink.content_type == "application/octet-stream"
            assert result.payload == b""
            # one START/END/REPORT, the handler's log in between
            assert result.log_tail.count("REPORT RequestId") == 1 and "wrote 3" in result.log_tail

            # Without a sink (plain Invoke), the stream is buffered into the payload.
            plain = await L.invoke("s", {"n": 2, "type": "text/plain"})
            assert plain.payload == b"chunk 0\nchunk 1\n" and plain.streamed == 0

            # HttpResponseStream: the prelude and 8 NUL bytes come first.
            sink = ResponseSink()
            result = await L.invoke("s", {"n": 1, "http": True}, stream=sink)
            data = b"".join(iter(lambda: sink.queue.get_nowait() or b"", b""))
            assert sink.content_type == HTTP_INTEGRATION_TYPE
            prelude, _, rest = data.partition(PRELUDE_END)
            assert json.loads(prelude)["statusCode"] == 201 and rest == b"chunk 0\n"
            assert result.function_error is None

    run(body())


def test_error_mid_stream_timeout_and_limit(tmp_path: Path) -> None:
    async def body() -> None:
        async with lab(tmp_path, stream_limit=3 * 1024 * 1024) as L:
            L.add("s", {"app.js": STREAM_APP}, runtime="nodejs20.x", handler="app.handler", timeout=2)
            # an error after two chunks: the chunks were delivered, the error is the result
            sink = ResponseSink()
            task = asyncio.get_running_loop().create_task(L.invoke("s", {"n": 5, "fail_after": 2}, stream=sink))
            got, reader = _chunks_reader(sink, task)
            result = await task
            await reader
            assert b"".join(got) == b"chunk 0\nchunk 1\n"
            assert result.function_error == "Unhandled" and result.error_type == "Error"
            assert json.loads(result.payload)["errorMessage"] == "broke after 2"
            # the environment is still good
            again = await L.invoke("s", {"n": 1})
            assert again.payload == b"chunk 0\n" and not again.cold

            # a timeout mid-stream cuts it
            sink = ResponseSink()
            task = asyncio.get_running_loop().create_task(L.invoke("s", {"n": 2, "hang": True}, stream=sink))
            got, reader = _chunks_reader(sink, task)
            result = await task
            await reader
            assert b"".join(got) == b"chunk 0\nchunk 1\n"
            assert result.error_type == "Sandbox.Timedout"
            assert "Status: timeout" in result.log_tail

            # over the streamed-size limit (3 MB here; 20 MB by default)
            sink = ResponseSink()
            task = asyncio.get_running_loop().create_task(
                L.invoke("s", {"n": 64, "size": 65536}, stream=sink))
            got, reader = _chunks_reader(sink, task)
            result = await task
            await reader
            assert result.error_type == "Function.ResponseSizeTooLarge"
            assert sum(map(len, got)) <= 3 * 1024 * 1024
            assert result.streamed == sum(map(len, got))

    run(body())
