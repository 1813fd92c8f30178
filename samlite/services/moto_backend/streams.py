"""Reads DynamoDB Streams and Kinesis shards out of moto's backends, for Lambda's stream pollers.

The reads run on the moto thread (moto is not thread-safe) and go straight to the backends'
objects rather than through GetRecords: moto's GetRecords walks a Kinesis shard from its start
on every call, and a poller reads thousands of times. Sequence numbers are moto's, as the
stream APIs answer them, so a position stored by the poller survives an engine restart (the
journal replays the same records under the same numbers).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from samlite.services.moto_backend.backend import MotoBackend


@dataclass(frozen=True)
class StreamRecord:
    sequence: int
    arrival: float  # epoch seconds: ApproximateArrivalTimestamp / ApproximateCreationDateTime
    partition_key: str  # Kinesis partition key; a DynamoDB item's key, as JSON
    data: str = ""  # Kinesis: the record's data, base64
    change: dict[str, Any] | None = None  # DynamoDB: eventID, eventName, dynamodb, userIdentity


class StreamReader:
    def __init__(self, backend: "MotoBackend") -> None:
        self.backend = backend
        self.account = backend.account_id
        self.region = backend.region
        self._watchers: list[Callable[[], None]] = []
        backend.on_write.append(self._written)

    # --- wake-ups ----------------------------------------------------------------------------
    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` (on the loop) after each acknowledged DynamoDB or Kinesis write."""
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(callback)

        self._watchers.append(wake)
        return lambda: self._watchers.remove(wake) if wake in self._watchers else None

    def _written(self, url: str) -> None:  # moto thread
        host = url.split("://", 1)[-1].split("/", 1)[0]
        if host.startswith(("dynamodb.", "kinesis.", "streams.dynamodb.")):
            for wake in list(self._watchers):
                wake()

    # --- reads -------------------------------------------------------------------------------
    async def shards(self, arn: str) -> list[str] | None:
        """The stream's shard ids, or None when the stream does not exist (or is disabled)."""
        return await self.backend.run(lambda: self._shards(arn))

    async def bounds(self, arn: str, shard: str) -> tuple[int, int]:
        """(position before the oldest record, sequence of the newest record) of one shard."""
        return await self.backend.run(lambda: self._bounds(arn, shard))

    async def position_at(self, arn: str, shard: str, timestamp: float) -> int:
        """The position just before the first record that arrived at or after `timestamp`."""
        return await self.backend.run(lambda: self._position_at(arn, shard, timestamp))

    async def read(self, arn: str, shard: str, after: int, limit: int) -> list[StreamRecord]:
        """Up to `limit` records of the shard with a sequence number above `after`, in order."""
        return await self.backend.run(lambda: self._read(arn, shard, after, limit))

    # --- moto thread -------------------------------------------------------------------------
    def _kinesis_stream(self, arn: str) -> Any:
        from moto.kinesis.models import kinesis_backends

        name = arn.split(":stream/", 1)[-1]
        return kinesis_backends[self.account][self.region].streams.get(name)

    def _ddb_shard(self, arn: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        table_name, _, label = arn.split(":table/", 1)[-1].partition("/stream/")
        table = dynamodb_backends[self.account][self.region].tables.get(table_name)
        if table is None or table.stream_shard is None or table.latest_stream_label != label:
            return None
        return table.stream_shard

    def _shards(self, arn: str) -> list[str] | None:
        if ":kinesis:" in arn:
            stream = self._kinesis_stream(arn)
            return None if stream is None else sorted(stream.shards)
        shard = self._ddb_shard(arn)
        return None if shard is None else [shard.id]

    def _bounds(self, arn: str, shard_id: str) -> tuple[int, int]:
        if ":kinesis:" in arn:
            shard = self._kinesis_stream(arn).shards[shard_id]
            if not shard.records:
                return 0, 0
            return next(iter(shard.records)) - 1, next(reversed(shard.records))
        ddb = self._ddb_shard(arn)
        start = ddb.starting_sequence_number
        return start - 1, start + len(ddb.items) - 1

    def _position_at(self, arn: str, shard_id: str, timestamp: float) -> int:
        before, _ = self._bounds(arn, shard_id)
        position = before
        for record in self._read(arn, shard_id, before, 1 << 62):
            if record.arrival >= timestamp:
                break
            position = record.sequence
        return position

    def _read(self, arn: str, shard_id: str, after: int, limit: int) -> list[StreamRecord]:
        if ":kinesis:" in arn:
            stream = self._kinesis_stream(arn)
            shard = stream.shards.get(shard_id) if stream is not None else None
            return [] if shard is None else _kinesis_records(shard, after, limit)
        ddb = self._ddb_shard(arn)
        if ddb is None:
            return []
        start = max(0, after + 1 - ddb.starting_sequence_number)
        out = []
        for offset, item in enumerate(ddb.items[start:start + limit]):
            change = item.record
            keys = change["dynamodb"]["Keys"]
            created = change["dynamodb"]["ApproximateCreationDateTime"]
            out.append(StreamRecord(sequence=ddb.starting_sequence_number + start + offset,
                                    arrival=_epoch(created),
                                    partition_key=repr(sorted(keys.items())), change=change))
        return out


def _kinesis_records(shard: Any, after: int, limit: int) -> list[StreamRecord]:
    records = shard.records
    out: list[StreamRecord] = []
    # moto numbers a shard's records 1, 2, 3, ...: look them up directly, not by walking the shard.
    seq = after + 1
    while len(out) < limit:
        record = records.get(seq)
        if record is None:
            break
        out.append(_kinesis(record))
        seq += 1
    if not out and records and next(reversed(records)) > after:
        # A gap in the numbering (not moto's habit, but cheap to allow): walk.
        out = [_kinesis(r) for s, r in records.items() if s > after][:limit]
    return out


def _kinesis(record: Any) -> StreamRecord:
    # moto keeps the data as the request carried it: base64 text from the JSON protocol.
    data = record.data if isinstance(record.data, str) else base64.b64encode(record.data).decode()
    return StreamRecord(sequence=record.sequence_number, arrival=_epoch(record.created_at),
                        partition_key=record.partition_key, data=data)


def _epoch(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return float(value)
