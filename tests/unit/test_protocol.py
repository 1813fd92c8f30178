"""Framing and payload shapes: the engine side (protocol.py) and the worker side (bootstrap.py) agree."""

from __future__ import annotations

import json
import socket

from hypothesis import given
from hypothesis import strategies as st

from samlite.core.runtime import bootstrap, protocol


def test_engine_frames_decode_in_the_worker_and_back() -> None:
    a, b = socket.socketpair()
    try:
        a.sendall(protocol.encode({"t": "i", "id": "r1", "dl": 5}, b'{"x": 1}'))
        channel = bootstrap.Channel(b)
        assert channel.recv() == ({"t": "i", "id": "r1", "dl": 5}, b'{"x": 1}')
        channel.send({"t": "r", "m": 10}, b"\x00\xff")
        parser = protocol.FrameParser()
        assert list(parser.feed(a.recv(1024))) == [({"t": "r", "m": 10}, b"\x00\xff")]
        a.close()
        assert channel.recv() is None  # EOF
    finally:
        a.close()
        b.close()


@given(st.lists(st.tuples(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), st.binary(max_size=300)),
                max_size=6), st.integers(min_value=1, max_value=64))
def test_parser_handles_any_chunking(frames: list[tuple[dict, bytes]], chunk: int) -> None:
    data = b"".join(protocol.encode(h, b) for h, b in frames)
    parser = protocol.FrameParser()
    out = []
    for i in range(0, len(data), chunk):
        out.extend(parser.feed(data[i : i + chunk]))
    assert out == frames


def test_error_payload_shapes() -> None:
    handler_error = json.loads(protocol.error_payload("boom", "ValueError", "rid", ["  File x\n"]))
    assert list(handler_error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert json.loads(protocol.timeout_payload("rid", 3)) == {
        "errorType": "Sandbox.Timedout", "errorMessage": "RequestId: rid Error: Task timed out after 3.00 seconds"}
    assert json.loads(protocol.exit_payload("rid", 2))["errorMessage"] == (
        "RequestId: rid Error: Runtime exited with error: exit status 2")
    assert protocol.exit_reason(-11) == "signal: segmentation fault"
    assert protocol.exit_reason(-9) == "signal: killed"
    assert protocol.exit_reason(-6) == "signal: aborted"
    assert json.loads(protocol.oom_payload("rid"))["errorType"] == "Runtime.OutOfMemory"


def test_report_line_format() -> None:
    assert protocol.report_line("rid", 2.7512, protocol.billed_ms(2.7512, 139.18), 128, 56, 139.18) == (
        "REPORT RequestId: rid\tDuration: 2.75 ms\tBilled Duration: 142 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 56 MB\tInit Duration: 139.18 ms\t")
    assert protocol.report_line("rid", 3000.5, 3001, 128, 40, status="timeout").endswith(
        "Max Memory Used: 40 MB\tStatus: timeout\t")
    assert protocol.report_line("rid", 1.0, 1, 128, 128, status="error", error_type="Runtime.OutOfMemory").endswith(
        "Status: error\tError Type: Runtime.OutOfMemory\t")
    assert protocol.billed_ms(0.2, None) == 1
    assert protocol.start_line("rid", "$LATEST") == "START RequestId: rid Version: $LATEST"


def test_handler_resolution_messages() -> None:
    import pytest

    with pytest.raises(bootstrap.InitFault) as exc:
        bootstrap.load_handler("nodots")
    assert exc.value.error_type == "Runtime.MalformedHandlerName"
    assert exc.value.message == "Bad handler 'nodots': not enough values to unpack (expected 2, got 1)"
    with pytest.raises(bootstrap.InitFault) as exc:
        bootstrap.load_handler("sys.handler")
    assert exc.value.error_type == "Runtime.BuiltInModuleConflict"
    assert bootstrap.load_handler("json.dumps") is json.dumps
    assert bootstrap.load_handler("os/path.join").__name__ == "join"
