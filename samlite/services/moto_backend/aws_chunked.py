"""S3's aws-chunked uploads, decoded before moto sees them.

SDKs that stream a body with a checksum (the JavaScript and Java SDKs, boto3 over https) send it
as `Content-Encoding: aws-chunked`: hex-sized chunks (a signed upload adds `;chunk-signature=`),
a zero chunk, then trailer lines such as `x-amz-checksum-crc32:<base64>`. moto decoded that by
concatenating bytes chunk after chunk (quadratic: 33 MB/s for 8 MB in 64 KB chunks), answered a
malformed body with a 500, and stored a trailer checksum without checking it.

Here the body is decoded in one pass, its length checked against `x-amz-decoded-content-length`,
its checksums (trailer or header) checked against the payload (checksums.py), and moto gets a
plain request: the payload, with the trailer checksum as a header. Chunk
signatures are not checked (the request's own signature is, when SAMLITE_VERIFY_SIGV4 is on).
"""

from __future__ import annotations

from samlite.services.moto_backend import checksums

STREAMING = "STREAMING-"  # x-amz-content-sha256 of every aws-chunked upload
DROPPED = ("content-length", "x-amz-content-sha256", "x-amz-decoded-content-length", "x-amz-trailer",
           "content-encoding")


class ChunkedError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_chunked(headers: dict[str, str]) -> bool:
    """`headers`: lowercased names."""
    return headers.get("x-amz-content-sha256", "").startswith(STREAMING) or \
        "aws-chunked" in headers.get("content-encoding", "")


def decode(body: bytes) -> tuple[bytes, dict[str, str]]:
    """(payload, trailers with lowercased names) of an aws-chunked body; ChunkedError if malformed."""
    view = memoryview(body)
    pieces: list[memoryview] = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise ChunkedError("IncompleteBody", "The aws-chunked body ends inside a chunk header.")
        size_text = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16) if size_text and size_text.isalnum() else -1
        except ValueError:
            size = -1
        if size < 0:
            raise ChunkedError("InvalidRequest", f"Invalid aws-chunked chunk size '{size_text[:20].decode('latin-1')}'.")
        pos = eol + 2
        if size == 0:
            break
        end = pos + size
        if body[end:end + 2] != b"\r\n":
            raise ChunkedError("IncompleteBody", "An aws-chunked chunk is shorter than its declared size.")
        pieces.append(view[pos:end])
        pos = end + 2
    trailers: dict[str, str] = {}
    while pos < len(body):
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise ChunkedError("IncompleteBody", "The aws-chunked body ends inside a trailer.")
        line, pos = body[pos:eol], eol + 2
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep:
            raise ChunkedError("InvalidRequest", "Malformed trailer in the aws-chunked body.")
        trailers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if pos != len(body):
        raise ChunkedError("InvalidRequest", "Unexpected data after the end of the aws-chunked body.")
    return b"".join(pieces), trailers


def plain(headers: list[tuple[str, str]], body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """The request moto should see for an aws-chunked upload: (headers, payload)."""
    lowered = {k.lower(): v for k, v in headers}
    payload, trailers = decode(body)
    declared = lowered.get("x-amz-decoded-content-length")
    if declared is not None and declared != str(len(payload)):
        raise ChunkedError("IncompleteBody", f"The aws-chunked payload has {len(payload)} bytes, "
                                             f"x-amz-decoded-content-length says {declared}.")
    out = [(k, v) for k, v in headers if k.lower() not in DROPPED]
    encodings = [e.strip() for e in lowered.get("content-encoding", "").split(",")
                 if e.strip() and e.strip() != "aws-chunked"]
    if encodings:
        out.append(("content-encoding", ",".join(encodings)))
    out += [("content-length", str(len(payload))), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]
    out += [(name, value) for name, value in trailers.items()
            if name.startswith("x-amz-checksum-")]  # not x-amz-trailer-signature
    try:
        checksums.check({k.lower(): v for k, v in out}, "PUT", payload)
    except checksums.ChecksumError as err:
        raise ChunkedError(err.code, err.message) from None
    return out, payload
