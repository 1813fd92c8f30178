"""Engine <-> worker framing, Lambda's error payload shapes and platform log lines.

A frame is `<u32 header length><u32 body length><header JSON><body bytes>` (little endian):
the header is a small compact JSON object, the body raw bytes (event, result, log text), so a
payload is never re-encoded. `bootstrap.py` carries its own copy of the framing because it runs
under arbitrary interpreters without samlite importable; tests/unit/test_protocol.py checks
that both sides agree.

Header "t" values. Engine -> worker: "i" invoke {id, dl (deadline, epoch ms), arn, cc}.
Worker -> engine: "ready" (init done), "ie" (init error, body = error JSON, et = errorType),
"r" (result, body = bytes; m = peak RSS kB), "e" (handler error, body = error JSON, et),
"o" (stdout/stderr text, may hold several lines), "l" (one log event, e.g. a logging record).
"""

from __future__ import annotations

import json
import math
import signal
import struct
from typing import Any, Iterator

import orjson

HEADER = struct.Struct("<II")

# Payload limits.
SYNC_REQUEST_LIMIT = 6_291_456
SYNC_RESPONSE_LIMIT = 6_291_556
ASYNC_REQUEST_LIMIT = 1_048_576
CLIENT_CONTEXT_LIMIT = 3_583
INIT_LIMIT_S = 10.0


def dumps(value: Any) -> bytes:
    """Compact JSON. orjson is ~10x faster than json.dumps on event-sized dicts (a hot-path cost
    of the gateway and of every frame); json takes what orjson refuses (65-bit integers, lone
    surrogates, which it escapes to ASCII)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, separators=(",", ":")).encode()


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = dumps(header)  # compact, as the worker's own encoder writes
    return HEADER.pack(len(head), len(body)) + head + body


class FrameParser:
    """Incremental decoder for the engine side (fed from asyncio's data_received)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
        buf = self._buf
        buf += data
        offset = 0
        size = len(buf)
        while size - offset >= 8:
            hlen, blen = HEADER.unpack_from(buf, offset)
            end = offset + 8 + hlen + blen
            if end > size:
                break
            # json, not orjson: orjson reads 65-bit integers as floats.
            header = json.loads(buf[offset + 8 : offset + 8 + hlen].decode())
            body = bytes(buf[offset + 8 + hlen : end])
            offset = end
            yield header, body
        if offset:
            del buf[:offset]


# --- error payloads -------------------------------------------------------------


def error_payload(message: str, error_type: str, request_id: str | None = None,
                  stack_trace: list[str] | None = None) -> bytes:
    """The handler-error shape; platform errors (request_id None) carry only type and message."""
    if request_id is None:
        return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id,
                       "stackTrace": stack_trace or []}).encode()


def timeout_payload(request_id: str, timeout_s: float) -> bytes:
    return error_payload(f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
                         "Sandbox.Timedout")


def exit_reason(returncode: int) -> str:
    """Go-style wording Lambda uses: `exit status 3`, `signal: killed`, `signal: segmentation fault`."""
    if returncode >= 0:
        return f"exit status {returncode}"
    sig = -returncode
    try:
        word = _SIGNAL_WORDS.get(signal.Signals(sig)) or signal.Signals(sig).name.lower()
    except ValueError:
        word = str(sig)
    return f"signal: {word}"


_SIGNAL_WORDS = {
    signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction", signal.SIGINT: "interrupt", signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe", signal.SIGQUIT: "quit", signal.SIGTRAP: "trace/breakpoint trap",
}


def exit_payload(request_id: str, returncode: int) -> bytes:
    return error_payload(f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(returncode)}",
                         "Runtime.ExitError")


def oom_payload(request_id: str) -> bytes:
    return error_payload(f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
                         "Runtime.OutOfMemory")


def response_too_large_payload() -> bytes:
    return json.dumps({
        "errorMessage": f"Response payload size exceeded maximum allowed payload size ({SYNC_RESPONSE_LIMIT} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }).encode()


# --- platform log lines ---------------------------------------------------------


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def billed_ms(duration_ms: float, init_ms: float | None) -> int:
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


def report_line(request_id: str, duration_ms: float, billed: int, memory_size: int, max_memory_mb: int,
                init_ms: float | None = None, status: str | None = None, error_type: str | None = None) -> str:
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {memory_size} MB\tMax Memory Used: {max_memory_mb} MB\t")
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if status:
        line += f"Status: {status}\t"
        if error_type:
            line += f"Error Type: {error_type}\t"
    return line


def init_report_line(init_ms: float, error_type: str) -> str:
    return f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error\tError Type: {error_type}"
