"""S3's integrity headers, checked as S3 checks them (moto stores them without looking):
`Content-MD5` and `x-amz-checksum-crc32|sha1|sha256` must match the body, or the request is a 400
and nothing is stored. CRC32C and CRC64NVME are kept as sent: computing them needs awscrt.

`Digests` runs incrementally, so a large body is checked by the thread that stores it (ingest.py)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Any


class ChecksumError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: Any) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _new(algorithm: str) -> Any:
    return _Crc32() if algorithm == "crc32" else hashlib.new(algorithm)


CHECKED = ("crc32", "sha1", "sha256")


def describe_body(method: str) -> bool:
    """Whether a request's x-amz-checksum-* headers are checksums of its body: a PUT's are
    (PutObject, UploadPart, a PUT subresource). A POST's may not be: CompleteMultipartUpload's
    name the whole object. Content-MD5 is always the body's."""
    return method == "PUT"


class Digests:
    """The checksums a request's headers ask to be checked (`headers`: lowercased names)."""

    def __init__(self, headers: dict[str, str], method: str, md5_known: bool = False) -> None:
        self.expected = {alg: headers[f"x-amz-checksum-{alg}"] for alg in CHECKED
                         if f"x-amz-checksum-{alg}" in headers and describe_body(method)}
        self.content_md5 = headers.get("content-md5")
        self._hashes = {alg: _new(alg) for alg in self.expected}
        if self.content_md5 is not None and not md5_known:
            self._hashes["md5"] = hashlib.md5(usedforsecurity=False)

    def update(self, data: Any) -> None:
        for h in self._hashes.values():
            h.update(data)

    def check(self, md5_hex: str | None = None) -> None:
        """ChecksumError unless every checksum the headers named matches what was received."""
        if self.content_md5 is not None:
            try:
                sent = base64.b64decode(self.content_md5, validate=True)
            except binascii.Error:
                sent = b""
            if len(sent) != 16:
                raise ChecksumError("InvalidDigest", "The Content-MD5 you specified was invalid.")
            got = bytes.fromhex(md5_hex) if md5_hex is not None else self._hashes["md5"].digest()
            if sent != got:
                raise ChecksumError("BadDigest", "The Content-MD5 you specified did not match what we received.")
        for alg, value in self.expected.items():
            if value != base64.b64encode(self._hashes[alg].digest()).decode():
                raise ChecksumError("BadDigest",
                                    f"The {alg.upper()} you specified did not match the calculated checksum.")


def check(headers: dict[str, str], method: str, body: bytes) -> None:
    """The whole-body check of a request held in memory."""
    digests = Digests(headers, method)
    digests.update(body)
    digests.check()
