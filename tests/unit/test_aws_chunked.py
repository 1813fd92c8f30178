"""The aws-chunked decoder that turns streamed S3 uploads into plain requests for moto."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from samlite.services.moto_backend.aws_chunked import ChunkedError, decode, plain


def encode(data: bytes, size: int, trailers: dict[str, str] | None = None, signed: bool = False) -> bytes:
    out = b""
    for start in range(0, len(data), size):
        chunk = data[start:start + size]
        out += b"%x%s\r\n%s\r\n" % (len(chunk), b";chunk-signature=" + b"0" * 64 if signed else b"", chunk)
    out += b"0\r\n"
    for name, value in (trailers or {}).items():
        out += f"{name}:{value}\r\n".encode()
    return out + b"\r\n"


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@given(st.binary(max_size=5000), st.integers(1, 700), st.booleans())
def test_decode_returns_the_payload_and_trailers(data: bytes, size: int, signed: bool) -> None:
    payload, trailers = decode(encode(data, size, {"x-amz-checksum-crc32": crc32(data)}, signed))
    assert payload == data and trailers == {"x-amz-checksum-crc32": crc32(data)}


@pytest.mark.parametrize(("body", "code"), [
    (b"zz\r\nabc\r\n0\r\n\r\n", "InvalidRequest"),          # not a hex size
    (b"-3\r\nabc\r\n0\r\n\r\n", "InvalidRequest"),
    (b"10\r\nabc\r\n0\r\n\r\n", "IncompleteBody"),          # shorter than declared
    (b"3\r\nabc", "IncompleteBody"),                         # cut off
    (b"3\r\nabc\r\n0\r\nno-colon\r\n\r\n", "InvalidRequest"),
    (b"3\r\nabc\r\n0\r\n\r\nextra", "InvalidRequest"),
])
def test_malformed_bodies_are_refused(body: bytes, code: str) -> None:
    with pytest.raises(ChunkedError) as err:
        decode(body)
    assert err.value.code == code


def test_plain_request_carries_the_checked_trailer_checksum() -> None:
    data = b"hello world" * 1000
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    headers = [("Content-Encoding", "aws-chunked,gzip"), ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
               ("x-amz-decoded-content-length", str(len(data))), ("Content-Length", "999"), ("x-amz-meta-a", "b")]
    out, payload = plain(headers, encode(data, 4096, {"x-amz-checksum-sha256": sha}))
    assert payload == data
    assert dict(out) == {"x-amz-meta-a": "b", "content-encoding": "gzip", "content-length": str(len(data)),
                         "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-checksum-sha256": sha}
    with pytest.raises(ChunkedError) as err:
        plain(headers, encode(data, 4096, {"x-amz-checksum-crc32": crc32(b"other")}))
    assert err.value.code == "BadDigest"
    with pytest.raises(ChunkedError) as err:  # the decoded length disagrees
        plain(headers, encode(data[:-1], 4096))
    assert err.value.code == "IncompleteBody"
