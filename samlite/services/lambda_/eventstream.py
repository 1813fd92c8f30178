"""AWS's event-stream encoding (application/vnd.amazon.eventstream), as InvokeWithResponseStream
answers: each message is a prelude (total length, headers length, CRC32 of the two), headers
(name, type 7 = string, value), the payload and a CRC32 of everything before it. botocore's
parser reads it back (`botocore.eventstream`)."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_STRING = 7


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    head = _headers(headers)
    prelude = _PRELUDE.pack(12 + len(head) + len(payload) + 4, len(head))
    prelude += _CRC.pack(zlib.crc32(prelude))
    body = prelude + head + payload
    return body + _CRC.pack(zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    return message({":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload)


def payload_chunk(data: bytes) -> bytes:
    return event("PayloadChunk", data, "application/octet-stream")


def invoke_complete(fields: dict[str, Any]) -> bytes:
    return event("InvokeComplete", json.dumps(fields).encode(), "application/json")
