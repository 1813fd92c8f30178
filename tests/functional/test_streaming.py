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
exports.handler = awslambda.streamifyResponse(async (raw, responseStream, context) => {
  // invoked directly: the options are the event; through a function URL: its query string
  const event = raw.requestContext ? Object.fromEntries(Object.entries(raw.queryStringParameters ?? {})
    .map(([k, v]) => [k, /^[0-9]+$/.test(v) ? Number(v) : v])) : raw;
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


# --- through a real engine: a RESPONSE_STREAM function URL and InvokeWithResponseStream ------

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Streamer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: streamer
      CodeUri: node/
      Handler: app.handler
      Runtime: nodejs20.x
      Timeout: 2
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
  PyStream:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: pystream
      CodeUri: py/
      Handler: app.handler
      Runtime: python3.11
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
Outputs:
  StreamUrl:
    Value: !GetAtt StreamerUrl.FunctionUrl
  PyUrl:
    Value: !GetAtt PyStreamUrl.FunctionUrl
"""

PY_APP = """\
def handler(event, context):
    return {"statusCode": 202, "headers": {"x-py": "1"}, "body": "buffered"}
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):
    from samlite.testing import EngineHandle, write_project

    root = tmp_path_factory.mktemp("streaming")
    handle = EngineHandle(root / "home").start()
    try:
        template = write_project(root / "proj", TEMPLATE, {"node/app.js": STREAM_APP, "py/app.py": PY_APP})
        handle.deploy(template, "streaming")
        yield handle, handle.outputs("streaming")
    finally:
        handle.close()


def _chunked_reader(url: str, event_query: str):
    """A raw HTTP/1.1 GET; yields (status line + headers) then each chunk of the body as it arrives."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=15)
    path = (parts.path or "/") + "?" + event_query
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
    reader = sock.makefile("rb")
    head = []
    while (line := reader.readline()) not in (b"\r\n", b""):
        head.append(line.decode().rstrip("\r\n"))
    yield head
    while True:
        size = int(reader.readline().split(b";")[0], 16)
        if size == 0:
            break
        yield reader.read(size)
        reader.readline()
    sock.close()


def test_function_url_streams_chunks_as_written(deployed, tmp_path: Path) -> None:
    handle, outputs = deployed
    gate = str(tmp_path / "gate")
    # The URL's handler reads its options from the query string (see STREAM_APP via the event).
    reader = _chunked_reader(outputs["StreamUrl"], f"gate={gate}")
    head = next(reader)
    assert head[0].startswith("HTTP/1.1 200")
    lowered = [h.lower() for h in head]
    assert "transfer-encoding: chunked" in lowered
    for i in range(5):
        chunk = next(reader)
        # chunk i arrived while the handler is still held at the gate after writing it
        assert not Path(f"{gate}.{i}").exists()
        assert chunk == f"chunk {i}\n".encode()
        Path(f"{gate}.{i}").touch()
    assert list(reader) == []


def test_function_url_http_prelude_and_python_buffered(deployed) -> None:
    import requests

    _, outputs = deployed
    r = requests.get(outputs["StreamUrl"], params={"http": "1", "n": "2"}, timeout=15)
    assert r.status_code == 201 and r.headers["x-streamed"] == "yes" and r.headers["content-type"] == "text/plain"
    assert r.headers.get("set-cookie") == "a=1" and r.text == "chunk 0\nchunk 1\n"
    assert r.headers.get("transfer-encoding") == "chunked"
    # an error after two chunks: the two chunks, then the stream ends
    r = requests.get(outputs["StreamUrl"], params={"fail_after": "2", "gap": "10"}, timeout=15)
    assert r.status_code == 200 and r.text == "chunk 0\nchunk 1\n"
    # Python behind RESPONSE_STREAM: the buffered answer, as AWS gives it
    r = requests.get(outputs["PyUrl"], timeout=15)
    assert r.status_code == 202 and r.headers["x-py"] == "1" and r.text == "buffered"


def test_invoke_with_response_stream(deployed) -> None:
    handle, _ = deployed
    client = handle.client("lambda")
    out = client.invoke_with_response_stream(FunctionName="streamer", Payload=json.dumps({"n": 5, "gap": 20}),
                                             LogType="Tail")
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST"
    events = list(out["EventStream"])
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert chunks == [f"chunk {i}\n".encode() for i in range(5)]
    complete = events[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    import base64

    log = base64.b64decode(complete["LogResult"]).decode()
    assert log.count("REPORT RequestId") == 1 and "wrote 5" in log

    # an error after two chunks
    events = list(client.invoke_with_response_stream(
        FunctionName="streamer", Payload=json.dumps({"n": 5, "fail_after": 2}))["EventStream"])
    assert b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e) == b"chunk 0\nchunk 1\n"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Error" and "broke after 2" in complete["ErrorDetails"]

    # a timeout mid-stream (Timeout: 2)
    events = list(client.invoke_with_response_stream(
        FunctionName="streamer", Payload=json.dumps({"n": 1, "hang": True}))["EventStream"])
    assert b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e) == b"chunk 0\n"
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Sandbox.Timedout"

    # over the 20 MB limit
    events = list(client.invoke_with_response_stream(
        FunctionName="streamer", Payload=json.dumps({"n": 400, "size": 65536}))["EventStream"])
    total = sum(len(e["PayloadChunk"]["Payload"]) for e in events if "PayloadChunk" in e)
    assert 0 < total <= 20 * 1024 * 1024
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Function.ResponseSizeTooLarge"

    # a Python function: its whole answer in one chunk
    events = list(client.invoke_with_response_stream(FunctionName="pystream", Payload=b"{}")["EventStream"])
    assert json.loads(events[0]["PayloadChunk"]["Payload"])["body"] == "buffered"
    assert events[-1] == {"InvokeComplete": {}}

    # refusals are API errors
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke_with_response_stream(FunctionName="nope", Payload=b"{}")
    # metrics count streamed invocations like any other
    from samlite.testing import wait_for

    cw = handle.client("cloudwatch")

    def invocations() -> float:
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc)
        stats = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations",
                                         Dimensions=[{"Name": "FunctionName", "Value": "streamer"}],
                                         StartTime=now - datetime.timedelta(minutes=10),
                                         EndTime=now + datetime.timedelta(minutes=1), Period=3600,
                                         Statistics=["Sum"])
        return sum(p["Sum"] for p in stats["Datapoints"])

    wait_for(lambda: invocations() >= 4, message="streamed invocations in the metrics")
