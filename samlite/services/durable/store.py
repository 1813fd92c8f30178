"""Durable executions in SQLite, with the live ones in memory.

The library's SQLite store opens a connection and parses the whole execution from JSON on every
load, and every checkpoint loads and saves once: about 15 ms per checkpoint at a few hundred
operations. This store keeps the library's table (so its queries and `list_all` work unchanged)
but answers loads from memory, as the library's in-memory store does (the executor is written for
loads that share one object per execution), and writes each save through on one connection
before the call returns: an acknowledged checkpoint is on disk (WAL, synchronous=NORMAL), so it
survives a SIGKILL of the engine.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import orjson
from aws_durable_execution_sdk_python_testing.exceptions import ResourceNotFoundException
from aws_durable_execution_sdk_python_testing.execution import Execution
from aws_durable_execution_sdk_python_testing.stores.sqlite import SQLiteExecutionStore


class ExecutionStore(SQLiteExecutionStore):
    def __init__(self, db_path: Path) -> None:
        super().__init__(db_path)
        self._cache: dict[str, Execution] = {}
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        # id(operation or update) -> (the object, its JSON dict): operations and updates are
        # immutable (a change replaces the object), so each is converted once, not at every save.
        self._converted: dict[int, tuple[Any, Any]] = {}

    @classmethod
    def open(cls, db_path: Path) -> "ExecutionStore":
        db_path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(db_path)
        store._init_db()
        db = sqlite3.connect(db_path, timeout=30.0, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # The library keeps a callback's last heartbeat in memory only; a restart re-arms the
        # heartbeat timeout from the time kept here.
        db.execute("CREATE TABLE IF NOT EXISTS callback_heartbeats (callback_id TEXT PRIMARY KEY,"
                   " durable_execution_arn TEXT NOT NULL, at REAL NOT NULL)")
        store._db = db
        return store

    def save(self, execution: Execution) -> None:
        op = execution.get_operation_execution_started()
        row = (execution.durable_execution_arn, execution.start_input.function_name,
               execution.start_input.execution_name, execution.current_status().value,
               op.start_timestamp.timestamp() if op.start_timestamp else None,
               op.end_timestamp.timestamp() if op.end_timestamp else None,
               orjson.dumps(self._json_dict(execution)).decode())
        with self._lock:
            if self._db is None:  # closed: the engine is stopping, and a lane finished late
                return
            self._db.execute(
                "INSERT OR REPLACE INTO executions (durable_execution_arn, function_name, execution_name, status,"
                " start_timestamp, end_timestamp, data) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            self._cache[execution.durable_execution_arn] = execution

    def _convert(self, obj: Any, convert: Callable[[], Any]) -> Any:
        entry = self._converted.get(id(obj))
        if entry is None or entry[0] is not obj:
            entry = self._converted[id(obj)] = (obj, convert())
        return entry[1]

    def _json_dict(self, execution: Execution) -> dict[str, Any]:
        """`execution.to_json_dict()`, with each operation, update and invocation converted once
        (at a few hundred operations the full conversion was most of a checkpoint's time)."""
        with self._lock:
            if len(self._converted) > 100_000:
                self._converted.clear()
            operations = [self._convert(op, op.to_json_dict) for op in list(execution.operations)]
            updates = [self._convert(u, u.to_dict) for u in list(execution.updates)]
            completions = [self._convert(c, c.to_json_dict) for c in list(execution.invocation_completions)]
        e = execution
        return {
            "DurableExecutionArn": e.durable_execution_arn,
            "StartInput": e.start_input.to_dict(),
            "Operations": operations,
            "Updates": updates,
            "UpdateTimestamps": [ts.isoformat() for ts in e.update_timestamps],
            "InvocationCompletions": completions,
            "UpdatedOperationIds": e.updated_operation_ids,
            "TokenSequence": e.token_sequence,
            "SeqCounter": e.seq_counter,
            "HandlerSeenSeq": e.handler_seen_seq,
            "OperationLastTouchedSeq": dict(e.operation_last_touched_seq),
            "OperationSizeBytes": dict(e.operation_size_bytes),
            "ChainedInvokeChildren": dict(e.chained_invoke_children),
            "ParentExecutionArn": e.parent_execution_arn,
            "Region": e.region,
            "NeedsReinvoke": e.needs_reinvoke,
            "LastCheckpoint": e.last_checkpoint.to_json_dict() if e.last_checkpoint else None,
            "IsComplete": e.is_complete,
            "Result": e.result.to_dict() if e.result else None,
            "ConsecutiveFailedInvocationAttempts": e.consecutive_failed_invocation_attempts,
            "CloseStatus": e.close_status.value if e.close_status else None,
            "CurrentInvocationId": e.current_invocation_id,
            "PauseState": e.pause_state.value,
        }

    def update(self, execution: Execution) -> None:
        self.save(execution)

    def load(self, execution_arn: str) -> Execution:
        with self._lock:
            cached = self._cache.get(execution_arn)
            if cached is not None:
                return cached
            assert self._db is not None, "open() the store first"
            row = self._db.execute("SELECT data FROM executions WHERE durable_execution_arn = ?",
                                   (execution_arn,)).fetchone()
            if row is None:
                raise ResourceNotFoundException("Durable Execution does not exist")
            execution = Execution.from_json_dict(orjson.loads(row[0]))
            self._cache[execution_arn] = execution
            return execution

    def list_all(self) -> list[Execution]:
        with self._lock:
            assert self._db is not None, "open() the store first"
            arns = [r[0] for r in self._db.execute("SELECT durable_execution_arn FROM executions")]
            return [self.load(arn) for arn in arns]

    def newest(self, function_name: str | None, limit: int) -> list[Execution]:
        """The `limit` most recently started executions (of one function), newest first."""
        with self._lock:
            assert self._db is not None, "open() the store first"
            where, args = ("WHERE function_name = ?", (function_name,)) if function_name else ("", ())
            arns = [r[0] for r in self._db.execute(
                f"SELECT durable_execution_arn FROM executions {where} ORDER BY start_timestamp DESC LIMIT ?",
                (*args, limit))]
            return [self.load(arn) for arn in arns]

    def record_heartbeat(self, execution_arn: str, callback_id: str, at: datetime) -> None:
        with self._lock:
            if self._db is None:
                return
            self._db.execute("INSERT OR REPLACE INTO callback_heartbeats (callback_id, durable_execution_arn, at)"
                             " VALUES (?, ?, ?)", (callback_id, execution_arn, at.timestamp()))

    def last_heartbeat(self, callback_id: str) -> datetime | None:
        with self._lock:
            assert self._db is not None, "open() the store first"
            row = self._db.execute("SELECT at FROM callback_heartbeats WHERE callback_id = ?",
                                   (callback_id,)).fetchone()
        return datetime.fromtimestamp(row[0], timezone.utc) if row else None

    def delete(self, execution_arn: str) -> None:
        with self._lock:
            assert self._db is not None, "open() the store first"
            self._db.execute("DELETE FROM executions WHERE durable_execution_arn = ?", (execution_arn,))
            self._db.execute("DELETE FROM callback_heartbeats WHERE durable_execution_arn = ?", (execution_arn,))
            self._cache.pop(execution_arn, None)

    def purge_expired(self, now: float) -> int:
        """Delete the ended executions past their RetentionPeriodInDays; how many went."""
        where = ("end_timestamp IS NOT NULL AND end_timestamp"
                 " + 86400 * COALESCE(json_extract(data, '$.StartInput.ExecutionRetentionPeriodDays'), 14) < ?")
        with self._lock:
            assert self._db is not None, "open() the store first"
            gone = [r[0] for r in self._db.execute(f"SELECT durable_execution_arn FROM executions WHERE {where}",
                                                   (now,))]
            self._db.execute(f"DELETE FROM executions WHERE {where}", (now,))
            self._db.execute("DELETE FROM callback_heartbeats WHERE durable_execution_arn NOT IN"
                             " (SELECT durable_execution_arn FROM executions)")
            for arn in gone:
                self._cache.pop(arn, None)
            return len(gone)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
