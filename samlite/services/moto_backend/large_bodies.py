"""Large S3 bodies without moto's extra copies.

moto was built for unit tests with small objects. A 50 MB PutObject went through werkzeug's
stream reader (a chunked re-read and join of a body already in memory), then into a
SpooledTemporaryFile that rolls over to disk with one write of the whole body, then through MD5
(the ETag), while the journal wrote the same body to its own blob file. Here:

- moto's werkzeug request gets the body we hold as its cached data (`preset_body`);
- a body that was stored while it arrived (samlite.services.moto_backend.ingest) is `known`
  while moto runs the request: the key moto makes of it reads from that file (which becomes the
  journal's blob) and takes its MD5, so nothing is copied or hashed again;
- other large values go to the key's temp file in 1 MB pieces: on Linux one huge write() to
  the page cache was several times slower than the same bytes in pieces.

The two moto internals this relies on (FakeKey's `value` property and its `_value_buffer`) are
checked by tests/functional/test_s3_large.py.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

WRITE_PIECE = 1024 * 1024

# The body moto is running a request with, and its stored file and MD5 (moto thread only).
_known: tuple[bytes, Path, str | None] | None = None


@contextlib.contextmanager
def known(body: bytes, path: Path, md5: str | None) -> Iterator[None]:
    """While moto runs one request: a key made of exactly `body` reads from `path` (which holds
    the same bytes and is never written again) and has `md5` as its ETag (None: moto computes it)."""
    global _known
    _known = (body, path, md5)
    try:
        yield
    finally:
        _known = None


def write_in_pieces(file: IO[bytes], data: bytes) -> None:
    """`file.write(data)`, in WRITE_PIECE slices of one memoryview (no copies)."""
    view = memoryview(data)
    for start in range(0, len(view), WRITE_PIECE):
        file.write(view[start:start + WRITE_PIECE])


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as file:
        write_in_pieces(file, data)


def preset_body(request: Any, body: bytes, s3_put: bool) -> None:
    """Give moto's werkzeug request the body we already hold as its cached data, so `request.data`
    does not re-read it through werkzeug's stream. Form bodies keep werkzeug's own parsing (their
    `data` is empty by definition), except an S3 PUT's: its body is the object (or an XML
    document), never a form. werkzeug parsed a form-typed object into fields, moto took them for
    request parameters and stored an empty object."""
    if not body:
        return
    if s3_put:
        from werkzeug.datastructures import ImmutableMultiDict

        # What werkzeug's own form loading sets (it bypasses the cached properties the same way).
        request.__dict__["form"] = ImmutableMultiDict()
        request.__dict__["files"] = ImmutableMultiDict()
        request._cached_data = body
    elif not request.want_form_data_parsed:
        request._cached_data = body


def set_value(key: Any, new_value: bytes | str) -> None:
    """FakeKey's value setter: moto's, except for where the bytes go."""
    if isinstance(new_value, str):
        new_value = new_value.encode("utf-8")
    buffer = key._value_buffer
    if _known is not None and new_value is _known[0]:
        buffer.close()
        # Read-only, closed by moto with the key; a new value gets a new buffer.
        key._value_buffer = open(_known[1], "rb")  # noqa: SIM115
        if _known[2] is not None:
            key._etag = _known[2]
    else:
        if not isinstance(buffer, tempfile.SpooledTemporaryFile):  # it was a stored body's file
            buffer.close()
            buffer = key._value_buffer = tempfile.SpooledTemporaryFile(key._max_buffer_size)  # noqa: SIM115
        buffer.seek(0)
        buffer.truncate()
        if len(new_value) > key._max_buffer_size:
            buffer.rollover()  # still empty: nothing is copied
            write_in_pieces(buffer, new_value)
        else:
            buffer.write(new_value)
    key.contentsize = len(new_value)


def install() -> None:
    from moto.s3.models import FakeKey

    FakeKey.value = FakeKey.value.setter(set_value)  # type: ignore[attr-defined,method-assign]
