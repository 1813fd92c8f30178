"""Response streaming: where a streamed invocation's bytes go while the handler writes them.

A runtime that streams (samlite's Node runtime for a handler wrapped in
`awslambda.streamifyResponse`, or any Runtime API client) posts its response with
`Lambda-Runtime-Function-Response-Mode: streaming` and a chunked body. The Runtime API
(runtime_api.py) hands each chunk to the invocation's `ResponseSink` as it arrives; the caller
(a RESPONSE_STREAM function URL, InvokeWithResponseStream) reads the sink while the invoke service
still runs the invocation, and gets the usual InvokeResult (errors, REPORT, metrics) at the end.

An invocation without a sink (the plain Invoke API, a Python function) gets the streamed bytes
buffered, as Lambda does when a streaming function is invoked with Invoke.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

# The content type HttpResponseStream.from sets: a JSON prelude (statusCode, headers, cookies),
# 8 NUL bytes, then the body.
HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_END = b"\0" * 8
# Below this much streamed data, no bandwidth cap applies (AWS: the first 6 MB are uncapped).
UNCAPPED_BYTES = 6 * 1024 * 1024


class ResponseSink:
    """The chunks of one streamed response, in order; None ends them."""

    __slots__ = ("queue", "content_type", "streamed", "closed")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.content_type: str | None = None  # the runtime's Content-Type, set before the first chunk
        self.streamed = 0  # bytes written so far
        self.closed = False

    def start(self, content_type: str | None) -> None:
        self.content_type = content_type

    def write(self, chunk: bytes) -> None:
        if chunk and not self.closed:
            self.streamed += len(chunk)
            self.queue.put_nowait(chunk)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    async def chunks(self, run: asyncio.Future[Any]) -> AsyncIterator[bytes]:
        """The chunks as they come, until `run` (the invocation's task) is over."""
        run.add_done_callback(lambda _: self.close())
        while True:
            chunk = await self.queue.get()
            if chunk is None:
                return
            yield chunk


__all__ = ["ResponseSink", "HTTP_INTEGRATION_TYPE", "PRELUDE_END", "UNCAPPED_BYTES"]
