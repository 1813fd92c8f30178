"""A large S3 body is stored and hashed while it is still arriving.

The body of a PutObject or UploadPart of at least INGEST_MIN bytes is handed, chunk by chunk as
the socket delivers it, to a thread of its own that writes it to an `incoming-*` file next to the
journal's blobs and feeds MD5 (S3's ETag for a single-part object). Both release the GIL, so they
overlap with receiving the rest of the body instead of following it. The file then becomes the
journal's blob for the request, and moto's key reads from it (see large_bodies), so the body is
written to disk once.
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

INGEST_MIN = 1024 * 1024  # smaller bodies are cheaper to keep in memory and journal in one row
INCOMING = "incoming-"  # an orphan (engine killed before the journal named it) is removed at load


@dataclass(frozen=True)
class Blob:
    """A received body's file and its MD5 (hex)."""

    path: Path
    md5: str


class Ingest:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{INCOMING}{uuid.uuid4().hex}"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by the writer thread
        self._chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._done: concurrent.futures.Future[str] = concurrent.futures.Future()
        threading.Thread(target=self._run, name="s3-ingest", daemon=True).start()

    def feed(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    async def finish(self) -> Blob:
        """The stored body, once every chunk is written and hashed."""
        self._chunks.put(None)
        return Blob(self.path, await asyncio.wrap_future(self._done))

    async def abort(self) -> None:
        """Drop the body (too large, or the client went away): no file is left."""
        self._chunks.put(None)
        try:
            await asyncio.wrap_future(self._done)
        finally:
            self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            with self._file:
                while (chunk := self._chunks.get()) is not None:
                    md5.update(chunk)
                    self._file.write(chunk)
        except Exception as exc:  # noqa: BLE001 - a full disk, say: the request fails with a 500, never hangs
            self._done.set_exception(exc)
            while self._chunks.get() is not None:  # let finish()/abort() return
                pass
            return
        self._done.set_result(md5.hexdigest())


def remove_orphans(directory: Path) -> None:
    for path in directory.glob(f"{INCOMING}*"):
        try:
            os.unlink(path)
        except OSError:
            pass
