"""MD5 digests SQS returns so clients (boto3, the SDKs) can verify what was stored.

`MD5OfMessageBody` is the hex MD5 of the UTF-8 body. `MD5OfMessageAttributes` (and
`MD5OfMessageSystemAttributes`) hash, for each attribute sorted by name: 4-byte big-endian
length + UTF-8 name, 4-byte length + DataType, one transport byte (1 = String/Number,
2 = Binary), 4-byte length + value bytes. botocore recomputes these and raises if they differ.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, Mapping

_LEN = struct.Struct(">I")


def md5_body(body: str) -> str:
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def md5_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """Digest of API-shaped attributes ({name: {DataType, StringValue | BinaryValue(bytes)}});
    None when there are none (the key is then omitted from the response)."""
    if not attributes:
        return None
    parts: list[bytes] = []
    for name in sorted(attributes):
        attr = attributes[name]
        data_type = str(attr["DataType"])
        encoded_name = name.encode("utf-8")
        encoded_type = data_type.encode("utf-8")
        parts += [_LEN.pack(len(encoded_name)), encoded_name, _LEN.pack(len(encoded_type)), encoded_type]
        if data_type.startswith("Binary"):
            value = attr["BinaryValue"]
            if isinstance(value, str):
                value = value.encode("utf-8")
            parts += [b"\x02", _LEN.pack(len(value)), value]
        else:
            value = str(attr["StringValue"]).encode("utf-8")
            parts += [b"\x01", _LEN.pack(len(value)), value]
    return hashlib.md5(b"".join(parts)).hexdigest()
