"""The two MD5 vectors AWS documents and the binary encoding."""

from __future__ import annotations

from samlite.services.sqs.md5 import md5_attributes, md5_body


def test_body_vector() -> None:
    assert md5_body("hi") == "49f68a5c8493ec2c0bf489821c21fc3b"


def test_attribute_vector() -> None:
    assert md5_attributes({"k": {"DataType": "String", "StringValue": "v"}}) == "0a77b0642718c3d9dd47090567d11e0d"


def test_no_attributes_means_no_digest() -> None:
    assert md5_attributes({}) is None
    assert md5_attributes(None) is None


def test_binary_uses_transport_byte_two_and_sorting() -> None:
    import hashlib

    # Spelled out byte by byte: "a" (Binary 00ff) sorts before "b" (Number 42).
    raw = (
        b"\x00\x00\x00\x01a" b"\x00\x00\x00\x06Binary" b"\x02" b"\x00\x00\x00\x02\x00\xff"
        b"\x00\x00\x00\x01b" b"\x00\x00\x00\x06Number" b"\x01" b"\x00\x00\x00\x0242"
    )
    attrs = {"b": {"DataType": "Number", "StringValue": "42"}, "a": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
    assert md5_attributes(attrs) == hashlib.md5(raw).hexdigest()
