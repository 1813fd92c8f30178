"""The engine's durable state: one SQLite database in WAL mode, one writer.

The engine runs on one asyncio thread and this connection is used only from it, so there is
exactly one writer by construction. WAL with `synchronous=NORMAL` makes every commit survive a
killed process (the WAL write reaches the OS before the commit returns) without an fsync per
commit; only power loss could drop the last commits, which AWS-local emulation accepts.
Every acknowledged write (a sent message, an accepted async event) is committed before the reply.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import orjson

from samlite.core.migrations import MIGRATIONS
from samlite.errors import StateError

APP_ID = "samlite-state"

log = logging.getLogger("samlite.engine")

WAL_LIMIT_BYTES = 16 * 1024 * 1024  # the WAL file is cut back to this when it restarts
BACKSTOP_CHECKPOINT_PAGES = 16384  # 64 MB of 4 KB pages (SQLite's default is 1000)


class Store:
    def __init__(self, path: Path, background_checkpoints: bool = False) -> None:
        self.path = path
        self.db = _open(path)
        self._depth = 0
        # The thread that writes (the engine's loop). Reads from any other thread go to a
        # read-only connection of that thread's own: WAL lets them run beside the writer, so a
        # long scan run with `asyncio.to_thread` never holds up the loop.
        self._owner = threading.get_ident()
        self._readers = threading.local()
        self._checkpointer: _Checkpointer | None = None
        if background_checkpoints:
            # SQLite's own checkpoint stays only as a backstop, should the WAL never get a
            # chance to restart under a long burst.
            self.db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
            self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
            self._checkpointer = _Checkpointer(path)
            if self.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0:
                # A database from before auto_vacuum: one VACUUM converts it, so that space freed by
                # purges (retention, caps, deleted groups) can be given back to the file later.
                log.info("converting %s to incremental vacuum (once)", path)
                self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                self.db.execute("VACUUM")

    # --- space ---------------------------------------------------------------------------
    def free_pages(self) -> tuple[int, int]:
        """(free pages, all pages) of the database file."""
        return (self.db.execute("PRAGMA freelist_count").fetchone()[0],
                self.db.execute("PRAGMA page_count").fetchone()[0])

    def release_pages(self, pages: int) -> None:
        """Give up to `pages` free pages back to the file system (the file shrinks at the next
        checkpoint). Each page is a write; callers release in small steps."""
        self.db.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()

    # --- queries -------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._reading().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self._reading().execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row): COUNT, MAX, one value."""
        row = self._reading().execute(sql, params).fetchone()
        return row[0] if row is not None else None

    def _reading(self) -> sqlite3.Connection:
        if threading.get_ident() == self._owner:
            return self.db
        reader = getattr(self._readers, "db", None)
        if reader is None:
            reader = sqlite3.connect(self.path.absolute().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
            reader.row_factory = sqlite3.Row
            reader.execute("PRAGMA busy_timeout=5000")
            self._readers.db = reader
        return reader

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        return self.db.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing; nested uses join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            if self.db.in_transaction:  # SQLite already rolled back after some errors (a full disk)
                self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # a failed COMMIT (full disk) leaves it open: the next BEGIN would fail
                self.db.execute("ROLLBACK")
            raise

    # --- logs and metrics, in bulk ---------------------------------------------------------
    def append_log_events(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        if not events:
            return
        now = int(time.time() * 1000)
        with self.transaction():
            self.db.execute(
                "INSERT INTO log_streams (log_group, log_stream, created_ms, first_event_ms, last_event_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (log_group, log_stream) DO UPDATE SET"
                " last_event_ms = excluded.last_event_ms",
                (group, stream, now, events[0][0], events[-1][0]),
            )
            # One statement per batch, expanded by json_each(): half the cost of executemany(),
            # which binds every row from Python.
            self.db.execute(
                "INSERT INTO log_events (log_group, log_stream, timestamp_ms, ingestion_ms, message)"
                " SELECT ?, ?, json_extract(value, '$[0]'), ?, json_extract(value, '$[1]') FROM json_each(?)",
                (group, stream, now, _events_json(events)))

    def append_metrics(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows in METRIC_COLUMNS order. (executemany: json_each() re-parses a row per column.)"""
        if rows:
            self.db.executemany(_INSERT_METRIC, rows)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()


class _Checkpointer:
    """Copies the WAL back into the database from a thread of its own, every 100 ms.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses 1000 WAL pages: on the
    event loop, a copy plus an fsync of several milliseconds every few seconds under load (it
    was most of the gateway's p99). A PASSIVE checkpoint never blocks the engine's writer, and
    it is one statement, so this thread holds the GIL only to start it."""

    INTERVAL_S = 0.1

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="samlite-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.INTERVAL_S):
            try:
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # a full disk: the next round retries
                log.warning("WAL checkpoint failed: %s", exc)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self.db.close()


METRIC_COLUMNS = ("function_name", "stack", "timestamp_ms", "request_id", "source", "duration_ms", "billed_ms",
                  "memory_size", "max_memory_mb", "init_ms", "cold", "error", "throttled", "concurrency",
                  "architecture")
_INSERT_METRIC = (f"INSERT INTO metrics ({', '.join(METRIC_COLUMNS)})"
                  f" VALUES ({', '.join('?' * len(METRIC_COLUMNS))})")


def _events_json(events: Sequence[tuple[int, str]]) -> str:
    try:
        return orjson.dumps(events).decode()
    except TypeError:  # a lone surrogate: SQLite cannot store it either, so it becomes '?'
        return orjson.dumps([(ts, msg.encode("utf-8", "replace").decode()) for ts, msg in events]).decode()


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists() and path.stat().st_size > 0
    try:
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        # Only takes effect on a new database (the engine converts older ones, see Store).
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=ON")
        if existed:
            row = _meta(db)
            if row != APP_ID:
                raise StateError(
                    f"{path} is not a samlite state database",
                    hint="Point SAMLITE_HOME at an empty folder or remove the file.",
                )
        _migrate(db)
    except sqlite3.DatabaseError as exc:
        raise StateError(
            f"cannot open the state database {path}: {exc}",
            hint="The file is corrupt or not SQLite; move it away (state is lost) or set SAMLITE_HOME.",
        ) from None
    return db


def _meta(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'app'").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def _migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StateError(
            f"the state database was written by a newer samlite (schema {version} > {len(MIGRATIONS)})",
            hint="Upgrade samlite or use another SAMLITE_HOME.",
        )
    for index in range(version, len(MIGRATIONS)):
        script = MIGRATIONS[index]()
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {index + 1};\nCOMMIT;")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
