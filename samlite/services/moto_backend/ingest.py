"""A large S3 body is stored and hashed while it is still arriving.

The body of an S3 PUT or POST of at least INGEST_MIN bytes is handed, piece by piece as the
socket delivers it, to a thread of its own that writes it to an `incoming-*` file next to the
journal's blobs and feeds MD5 (S3's ETag for a single-part object) and the checksums its headers
name (checksums.py). All release the GIL, so they overlap with receiving the rest of the body
instead of following it. The file becomes the journal's blob for the request, and moto's key
reads from it (large_bodies.known), so the body is written to disk once.

A plain PutObject or UploadPart never needs the body in memory: a StoredBody stands in for it,
and the engine keeps no copy. Other requests (`needs_bytes`) also get the pieces joined into one
bytes object, without the GIL, while the hashing ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import queue
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from samlite.services.moto_backend.checksums import Digests

INGEST_MIN = 1024 * 1024  # smaller bodies are cheaper to keep in memory and journal in one row
INCOMING = "incoming-"  # an orphan (engine killed before the journal named it) is removed at load


class StoredBody:
    """Stands in for a body that is only in its file. moto passes it through to the key it makes
    (and takes its len()); anything that tried to read it would fail loudly, never silently."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"StoredBody({self.size})"


@dataclass(frozen=True)
class Blob:
    """A received body's file, its MD5 (hex), the body (or what stands in for it) and the
    checksums taken of it."""

    path: Path
    md5: str
    body: bytes | StoredBody
    digests: Digests


class Ingest:
    """`in_memory`: the request also needs its body as bytes (see `needs_bytes`); otherwise each
    piece is dropped once it is written and hashed."""

    def __init__(self, directory: Path, in_memory: bool, digests: Digests) -> None:
        self.in_memory = in_memory
        self.digests = digests
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{INCOMING}{uuid.uuid4().hex}"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by the writer thread
        self.received: list[bytes] = []
        self.size = 0
        self._chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._done: concurrent.futures.Future[str] = concurrent.futures.Future()
        threading.Thread(target=self._run, name="s3-ingest", daemon=True).start()

    def feed(self, chunk: bytes) -> None:
        if self.in_memory:
            self.received.append(chunk)
        self.size += len(chunk)
        self._chunks.put(chunk)

    async def finish(self) -> Blob:
        """The stored body, once every chunk is written and hashed."""
        self._chunks.put(None)
        received, self.received = self.received, []
        if not self.in_memory:
            return Blob(self.path, await asyncio.wrap_future(self._done), StoredBody(self.size), self.digests)
        loop = asyncio.get_running_loop()
        body, md5 = await asyncio.gather(loop.run_in_executor(None, b"".join, received),
                                         asyncio.wrap_future(self._done))
        return Blob(self.path, md5, body, self.digests)

    async def abort(self) -> None:
        """Drop the body (too large, or the client went away): no file is left."""
        self._chunks.put(None)
        try:
            await asyncio.wrap_future(self._done)
        except Exception:  # noqa: BLE001 - a failed write: the body is dropped either way
            pass
        finally:
            self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            with self._file:
                while (chunk := self._chunks.get()) is not None:
                    md5.update(chunk)
                    self.digests.update(chunk)
                    self._file.write(chunk)
        except Exception as exc:  # noqa: BLE001 - a full disk, say: the request fails with a 500, never hangs
            self._done.set_exception(exc)
            while self._chunks.get() is not None:  # let finish()/abort() return
                pass
            return
        self._done.set_result(md5.hexdigest())


# Query parameters of a PutObject or UploadPart (and of presigned URLs: X-Amz-*); any other
# (?tagging, ?acl, ?retention, ...) is a request that reads its body.
_PLAIN_PUT_PARAMS = {"partNumber", "uploadId", "x-id"}


def needs_bytes(method: str, query: str, headers: dict[str, str], verifying: bool) -> bool:
    """Whether a request must have its body in memory, not only in its file: all but a plain
    PutObject/UploadPart. A checksum algorithm without its value makes moto compute it; a copy has
    no body of its own; SigV4 verification hashes the body. `headers`: lowercased names."""
    from urllib.parse import parse_qsl

    names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    if method != "PUT" or verifying or "x-amz-copy-source" in headers:
        return True
    if any(n not in _PLAIN_PUT_PARAMS and not n.startswith("X-Amz-") for n in names):
        return True
    algorithm = headers.get("x-amz-sdk-checksum-algorithm", "")
    return bool(algorithm) and f"x-amz-checksum-{algorithm.lower()}" not in headers


def remove_orphans(directory: Path) -> None:
    for path in directory.glob(f"{INCOMING}*"):
        try:
            os.unlink(path)
        except OSError:
            pass
