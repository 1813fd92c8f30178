"""moto keeps its state in memory; this makes it durable under SAMLITE_HOME.

Every mutating request moto accepted is appended to a SQLite journal (WAL) and committed before
its answer goes out (a body over 1 MB is in its own file, blobs/<seq>, which the row names:
a large S3 body was stored there while it arrived, see ingest.py), together with the random seed
and clock moto ran it under. Loading replays
the journal on top of the last snapshot with the same seed and clock, so generated ids, ARNs and
stream labels come back identical. A snapshot (a pickle of the backends' state, written to a
temp file, fsynced and renamed) compacts the journal; entries it covers are then deleted.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from samlite.services.moto_backend.ingest import remove_orphans
from samlite.services.moto_backend.large_bodies import write_file

log = logging.getLogger("samlite.engine")

BLOB_MIN = 1024 * 1024  # bodies at least this big go to blobs/<seq> (SQLite writes big blobs slowly)

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,          -- 'request' (an API call) or 'fixup' (a deploy-time id fix)
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    headers_json TEXT NOT NULL,
    body BLOB NOT NULL,
    clock REAL NOT NULL
);
"""


@dataclass
class Entry:
    seq: int
    kind: str
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    clock: float
    blob: Path | None = None  # the file the body was read from


class Journal:
    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.snapshot_path = home / "snapshot.pickle"
        self.blobs = home / "blobs"
        self.blobs.mkdir(exist_ok=True)
        remove_orphans(self.blobs)  # bodies of requests the journal never acknowledged
        # Used only from the backend's one thread, but created on the loop's thread.
        self.db = sqlite3.connect(home / "journal.db", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives the process being killed (SIGKILL); an OS crash or power
        # loss may lose the last commits, as for the rest of SAMLITE_HOME.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT MAX(seq) FROM journal").fetchone()
        self.last_seq = max(row[0] or 0, self._snapshot_seq())
        self.since_snapshot = 0

    def _snapshot_seq(self) -> int:
        if not self.snapshot_path.exists():
            return 0
        with open(self.snapshot_path, "rb") as f:
            return int(pickle.load(f)["seq"])  # the header is the first pickle in the file

    def next_seq(self) -> int:
        return self.last_seq + 1

    def append(self, seq: int, kind: str, method: str, url: str, headers: list[tuple[str, str]],
               body: bytes, clock: float, blob: Path | None = None) -> None:
        """`blob`: a file already holding `body` (written while it arrived); it becomes the entry's."""
        if blob is not None:
            os.replace(blob, self.blobs / str(seq))
            kind, body = f"{kind}+blob", b""
        elif len(body) >= BLOB_MIN:
            # Written (not fsynced: the page cache survives a SIGKILL) before the row that names it.
            write_file(self.blobs / str(seq), body)
            kind, body = f"{kind}+blob", b""
        self.db.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (seq, kind, method, url, json.dumps(headers), body, clock))
        self.last_seq = seq
        self.since_snapshot += 1

    def load_snapshot(self) -> tuple[int, Any]:
        if not self.snapshot_path.exists():
            return 0, None
        with open(self.snapshot_path, "rb") as f:
            header = pickle.load(f)
            return int(header["seq"]), pickle.load(f)

    def entries(self, after: int) -> Iterator[Entry]:
        cursor = self.db.execute("SELECT * FROM journal WHERE seq > ? ORDER BY seq", (after,))
        for seq, kind, method, url, headers, body, clock in cursor:
            blob = None
            if kind.endswith("+blob"):
                blob = self.blobs / str(seq)
                kind, body = kind[:-5], blob.read_bytes()
            yield Entry(seq, kind, method, url, [tuple(h) for h in json.loads(headers)], bytes(body), clock, blob)

    def size(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]

    def write_snapshot(self, state: Any) -> None:
        """Atomically replace the snapshot with `state` (as of `last_seq`), then drop what it covers."""
        seq = self.last_seq
        tmp = self.snapshot_path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump({"seq": seq}, f, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.snapshot_path)
        dir_fd = os.open(self.home, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        # A crash before this DELETE is harmless: replay skips entries at or below the snapshot's seq.
        self.db.execute("DELETE FROM journal WHERE seq <= ?", (seq,))
        for blob in self.blobs.iterdir():
            if blob.name.isdigit() and int(blob.name) <= seq:
                blob.unlink()
        self.since_snapshot = 0

    def close(self) -> None:
        self.db.close()
