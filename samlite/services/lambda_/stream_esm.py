"""Event source mappings for DynamoDB Streams and Kinesis: ordered, checkpointed shard pollers.

A `StreamPoller` runs one worker per shard and ParallelizationFactor slot. A slot owns the
records whose partition key (a DynamoDB item's key) hashes to it, so order holds per key, and
per shard when the factor is 1. A worker reads after its position, drops filtered-out records,
closes a batch at BatchSize, at the end of MaximumBatchingWindowInSeconds or at 6 MB, and invokes
the function through the one invoke path. A failing batch blocks only its own slot: it is
retried (bisected first with BisectBatchOnFunctionError) until it succeeds, MaximumRetryAttempts
is spent or its records are older than MaximumRecordAgeInSeconds; then its description goes to
DestinationConfig.OnFailure and the worker moves on. With ReportBatchItemFailures, the records
before the lowest reported sequence number count as done.

Positions (the last sequence number finished, per mapping, shard and slot) are committed to
SQLite after every batch, and a clean stop lets the invocation in flight finish and commit: a
restart resumes exactly after it. Records come from the moto backend (`StreamSource`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import functools
import json
import logging
import time
import uuid
import zlib
from typing import TYPE_CHECKING, Any, Callable, Protocol

from samlite.core.filters import matches
from samlite.services.lambda_.batch_response import failed_ids
from samlite.template.streams import stream_kind

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.invoke import InvokeService
    from samlite.core.store import Store
    from samlite.services.sqs.service import QueueService

log = logging.getLogger("samlite.engine")

BATCH_BYTES = 6 * 1024 * 1024
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 2.0
IDLE_POLL_S = 1.0  # a fallback: writes wake the workers at once
STOP_GRACE_S = 10.0


def forget_removed(store: "Store") -> None:
    """Drop the positions of mappings that no longer exist (a new mapping starts afresh)."""
    with store.transaction() as db:
        db.execute("DELETE FROM stream_positions WHERE mapping NOT IN (SELECT uuid FROM mappings)")


def describe(raw: dict[str, Any]) -> dict[str, Any]:
    """The stream-only fields of a mapping, as GetEventSourceMapping shows them."""
    out: dict[str, Any] = {"StartingPosition": raw.get("StartingPosition"),
                           "ParallelizationFactor": int(raw.get("ParallelizationFactor") or 1),
                           "BisectBatchOnFunctionError": bool(raw.get("BisectBatchOnFunctionError")),
                           "MaximumRetryAttempts": int(raw.get("MaximumRetryAttempts", -1)),
                           "MaximumRecordAgeInSeconds": int(raw.get("MaximumRecordAgeInSeconds", -1)),
                           "DestinationConfig": raw.get("DestinationConfig") or {"OnFailure": {}}}
    if raw.get("StartingPositionTimestamp") is not None:
        out["StartingPositionTimestamp"] = raw["StartingPositionTimestamp"]
    return out


class StreamSource(Protocol):
    """Where records come from (samlite.services.moto_backend.streams.StreamReader)."""

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]: ...
    async def shards(self, arn: str) -> list[str] | None: ...
    async def bounds(self, arn: str, shard: str) -> tuple[int, int]: ...
    async def position_at(self, arn: str, shard: str, timestamp: float) -> int: ...
    async def read(self, arn: str, shard: str, after: int, limit: int) -> list[Any]: ...


class StreamPoller:
    """Polls one stream for one mapping: a worker per shard and parallelization slot."""

    def __init__(self, settings: "Settings", store: "Store", invoker: "InvokeService",
                 queues: "QueueService", source: StreamSource, config: Any) -> None:
        self.settings = settings
        self.store = store
        self.invoker = invoker
        self.queues = queues
        self.source = source
        self.config = config  # esm.MappingConfig
        raw = config.raw
        self.arn: str = config.event_source_arn
        self.kind = stream_kind(self.arn)
        self.factor = max(1, int(raw.get("ParallelizationFactor") or 1))
        self.max_retries = int(raw.get("MaximumRetryAttempts", -1))
        self.max_age = int(raw.get("MaximumRecordAgeInSeconds", -1))
        self.bisect = bool(raw.get("BisectBatchOnFunctionError"))
        self.on_failure = ((raw.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self.workers: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.invocations = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy: set[asyncio.Task[Any]] = set()  # workers inside an invocation
        self._changed = asyncio.Event()
        self._unwatch: Callable[[], None] | None = None
        self._role = self._role_arn()

    @property
    def worker_count(self) -> int:
        return len(self.workers)

    def start(self) -> None:
        self._unwatch = self.source.watch(self._wake)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"stream-esm-{self.config.uuid}")

    def halt(self) -> None:
        self._stopping = True
        self._wake()

    async def stop(self) -> None:
        """Let invocations in flight finish and commit their position; stop everything else."""
        self.halt()
        if self._unwatch is not None:
            self._unwatch()
        tasks = [t for t in (self._supervisor, *self.workers.values()) if t is not None]
        idle = [t for t in tasks if t not in self._busy]
        for task in idle:
            task.cancel()
        if self._busy:
            await asyncio.wait(list(self._busy), timeout=STOP_GRACE_S)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.workers.clear()

    def _wake(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    # --- workers -----------------------------------------------------------------------------
    async def _supervise(self) -> None:
        """Start a worker per shard and slot; look for new shards now and then."""
        while not self._stopping:
            try:
                shards = await self.source.shards(self.arn)
            except Exception:
                log.exception("mapping %s: cannot list the shards of %s", self.config.uuid, self.arn)
                shards = None
            if shards is None:
                log.debug("mapping %s: stream %s does not exist", self.config.uuid, self.arn)
            for shard in shards or []:
                for slot in range(self.factor):
                    if (shard, slot) not in self.workers and not self._stopping:
                        task = asyncio.create_task(self._worker(shard, slot))
                        self.workers[(shard, slot)] = task
                        task.add_done_callback(functools.partial(self._forget_worker, (shard, slot)))
            await asyncio.sleep(5.0 if shards else 1.0)

    def _forget_worker(self, key: tuple[str, int], task: asyncio.Task[None]) -> None:
        if self.workers.get(key) is task:  # a replacement may already hold the slot
            del self.workers[key]

    async def _worker(self, shard: str, slot: int) -> None:
        position = await self._start_position(shard, slot)
        while not self._stopping:
            try:
                changed = self._changed
                scanned, batch = await self._collect(shard, slot, position)
                if scanned == position:
                    await _wait(changed, IDLE_POLL_S)
                    continue
                if self._stopping:
                    return  # nothing of this batch was invoked: it is read again after a restart
                if batch:
                    task = asyncio.current_task()
                    assert task is not None
                    self._busy.add(task)
                    try:
                        done = await self._deliver(shard, batch)
                    finally:
                        self._busy.discard(task)
                    if done is not True:
                        # Stopping in the middle of retries: keep what finished, redeliver the rest later.
                        if done is not None:
                            self._save(shard, slot, done)
                        return
                position = scanned
                self._save(shard, slot, position)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mapping %s: shard %s failed", self.config.uuid, shard)
                await asyncio.sleep(BACKOFF_MAX_S)

    async def _start_position(self, shard: str, slot: int) -> int:
        row = self.store.query_one("SELECT position FROM stream_positions WHERE mapping = ? AND shard = ? AND slot = ?",
                                   (self.config.uuid, shard, slot))
        if row is not None:
            return int(row["position"])
        raw = self.config.raw
        # A changed ParallelizationFactor: resume every slot from the least advanced old one.
        # (Positions are TEXT: DynamoDB's sequence numbers do not fit SQLite's integers.)
        others = [int(r["position"]) for r in self.store.query(
            "SELECT position FROM stream_positions WHERE mapping = ? AND shard = ?", (self.config.uuid, shard))]
        if others:
            position = min(others)
        elif raw.get("StartingPosition") == "LATEST":
            position = (await self.source.bounds(self.arn, shard))[1]
        elif raw.get("StartingPosition") == "AT_TIMESTAMP":
            position = await self.source.position_at(self.arn, shard, float(raw.get("StartingPositionTimestamp") or 0))
        else:  # TRIM_HORIZON
            position = (await self.source.bounds(self.arn, shard))[0]
        self._save(shard, slot, position)  # so LATEST means the moment the mapping started, across restarts
        return position

    def _save(self, shard: str, slot: int, position: int) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO stream_positions (mapping, shard, slot, position, updated_at)"
                       " VALUES (?, ?, ?, ?, ?)", (self.config.uuid, shard, slot, str(position), time.time()))

    async def _collect(self, shard: str, slot: int, position: int) -> tuple[int, list[Any]]:
        """(last sequence number looked at, the batch to invoke with) after `position`."""
        config = self.config
        batch: list[Any] = []
        size = 0
        scanned = position
        deadline: float | None = None
        while not self._stopping:
            changed = self._changed
            records = await self.source.read(self.arn, shard, scanned, max(100, config.batch_size))
            for record in records:
                event = self._event(shard, record)
                length = _size(record)
                if len(batch) >= config.batch_size or (batch and size + length > BATCH_BYTES):
                    return scanned, batch
                scanned = record.sequence
                if self.factor > 1 and zlib.crc32(record.partition_key.encode()) % self.factor != slot:
                    continue
                if config.patterns and not any(matches(p, self._filter_view(event)) for p in config.patterns):
                    continue  # filtered out: consumed without an invocation
                batch.append((record, event))
                size += length
            if len(batch) >= config.batch_size or (not batch and not records):
                return scanned, batch
            if not batch:
                continue  # everything read was another slot's or filtered out: read on
            if config.window_s <= 0:
                if not records:
                    return scanned, batch
                continue  # take what is there now, up to BatchSize
            if deadline is None:
                deadline = time.monotonic() + config.window_s
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return scanned, batch
            if not records:
                await _wait(changed, remaining)
        return scanned, batch

    # --- one batch, with its retries ---------------------------------------------------------
    async def _deliver(self, shard: str, batch: list[tuple[Any, dict[str, Any]]]) -> bool | int | None:
        """Invoke until the whole batch is done (True). When the poller stops first: the sequence
        number of the last record done, or None when none is."""
        from samlite.core.invoke import FunctionNotFound, TooManyRequests

        pending: list[tuple[list[tuple[Any, dict[str, Any]]], int]] = [(batch, 0)]
        done: int | None = None
        backoff = 0.0
        tried = False
        while pending:
            part, attempts = pending[0]
            if self.max_age >= 0:
                now = time.time()
                expired = [item for item in part if now - item[0].arrival > self.max_age]
                if expired:
                    self._discard(shard, expired, "RecordAgeExceeded", attempts, None)
                    part = [item for item in part if now - item[0].arrival <= self.max_age]
                    if not part:
                        done = expired[-1][0].sequence
                        pending.pop(0)
                        continue
                    pending[0] = (part, attempts)
            if self._stopping and tried:
                return done
            try:
                spec = self.invoker.resolve(self.config.function_name)
            except FunctionNotFound:
                await asyncio.sleep(1.0)
                if self._stopping:
                    return done
                continue
            payload = json.dumps({"Records": [event for _, event in part]}).encode()
            self.invocations += 1
            tried = True
            try:
                result = await self.invoker.run(spec, payload, str(uuid.uuid4()), source="esm")
            except TooManyRequests:
                # Throttles are retried until the records expire; they spend no retry attempt.
                backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, backoff * 2))
                await asyncio.sleep(backoff)
                continue
            failed_at = self._failed_index(part, result)
            if failed_at is None:
                done = part[-1][0].sequence
                pending.pop(0)
                backoff = 0.0
                continue
            if failed_at:
                done = part[failed_at - 1][0].sequence  # the records before the first reported failure are done
            part = part[failed_at:]
            if self.bisect and len(part) > 1:
                # A split is no retry: each half is tried again with the attempts spent so far.
                half = len(part) // 2
                pending[0:1] = [(part[:half], attempts), (part[half:], attempts)]
                continue
            attempts += 1
            if 0 <= self.max_retries < attempts:
                self._discard(shard, part, "RetryAttemptsExhausted", attempts, result)
                done = part[-1][0].sequence
                pending.pop(0)
                continue
            pending[0] = (part, attempts)
            backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, backoff * 2))
            await asyncio.sleep(backoff)
        return True

    def _failed_index(self, part: list[tuple[Any, dict[str, Any]]], result: Any) -> int | None:
        """None when the batch succeeded; else the index of the first record to retry."""
        if result.function_error or result.status_code >= 300:
            return 0
        if "ReportBatchItemFailures" not in (self.config.raw.get("FunctionResponseTypes") or []):
            return None
        sequences = [str(record.sequence) for record, _ in part]
        failed = failed_ids(result.payload, set(sequences))
        if failed is None:
            return 0  # an invalid response fails the whole batch
        if not failed:
            return None
        return min(sequences.index(s) for s in failed)

    def _discard(self, shard: str, part: list[tuple[Any, dict[str, Any]]], condition: str, attempts: int,
                 result: Any) -> None:
        """Give up on these records: describe them to the OnFailure destination, if any."""
        log.warning("mapping %s: %d record(s) of %s discarded (%s)", self.config.uuid, len(part), shard, condition)
        if not self.on_failure:
            return
        first, last = part[0][0], part[-1][0]
        spec = self.invoker.functions.get(self.config.function_name)
        record: dict[str, Any] = {
            "requestContext": {"requestId": result.request_id if result else str(uuid.uuid4()),
                               "functionArn": spec.arn if spec else "", "condition": condition,
                               "approximateInvokeCount": attempts},
        }
        if result is not None:
            context: dict[str, Any] = {"statusCode": result.status_code, "executedVersion": result.executed_version}
            if result.function_error:
                context["functionError"] = result.function_error
            record["responseContext"] = context
        record["version"] = "1.0"
        record["timestamp"] = _iso(time.time())
        record["KinesisBatchInfo" if self.kind == "kinesis" else "DDBStreamBatchInfo"] = {
            "shardId": shard, "startSequenceNumber": str(first.sequence), "endSequenceNumber": str(last.sequence),
            "approximateArrivalOfFirstRecord": _iso(first.arrival),
            "approximateArrivalOfLastRecord": _iso(last.arrival), "batchSize": len(part), "streamArn": self.arn}
        destination = str(self.on_failure)
        if destination.startswith("arn:aws:sqs:"):
            queue = self.queues.by_arn(destination)
            if queue is None:
                log.warning("mapping %s: OnFailure queue %s does not exist; record dropped", self.config.uuid,
                            destination)
                return
            self.queues.send(queue, {"MessageBody": json.dumps(record)})
        else:
            # SNS destinations are recorded here until topics deliver locally.
            log.warning("mapping %s: OnFailure destination %s is not run locally; record: %s", self.config.uuid,
                        destination, json.dumps(record))

    # --- the records a function sees ---------------------------------------------------------
    def _event(self, shard: str, record: Any) -> dict[str, Any]:
        region = self.settings.region
        if self.kind == "kinesis":
            return {
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": record.partition_key,
                            "sequenceNumber": str(record.sequence), "data": record.data,
                            "approximateArrivalTimestamp": round(record.arrival, 3)},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard}:{record.sequence}",
                "eventName": "aws:kinesis:record", "invokeIdentityArn": self._role, "awsRegion": region,
                "eventSourceARN": self.arn,
            }
        change = record.change
        stream = change["dynamodb"]
        body: dict[str, Any] = {"ApproximateCreationDateTime": float(int(record.arrival)), "Keys": stream["Keys"]}
        for image in ("NewImage", "OldImage"):
            if image in stream:
                body[image] = stream[image]
        body["SequenceNumber"] = str(record.sequence)
        body["SizeBytes"] = stream["SizeBytes"]
        body["StreamViewType"] = stream["StreamViewType"]
        event = {"eventID": change["eventID"], "eventName": change["eventName"], "eventVersion": "1.1",
                 "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": body}
        if change.get("userIdentity"):
            event["userIdentity"] = change["userIdentity"]  # a deletion by Time to Live
        event["eventSourceARN"] = self.arn
        return event

    def _filter_view(self, event: dict[str, Any]) -> dict[str, Any]:
        """What FilterCriteria see: a DynamoDB record whole; a Kinesis record's metadata with its
        data decoded as JSON (data that is not JSON only matches patterns that skip `data`)."""
        if self.kind != "kinesis":
            return event
        view = dict(event["kinesis"])
        try:
            view["data"] = json.loads(base64.b64decode(view["data"]))
        except (ValueError, RecursionError):
            view.pop("data")
        return view

    def _role_arn(self) -> str:
        from samlite.template.model import physical_name

        row = self.store.query_one("SELECT stack, logical_id FROM functions WHERE name = ?",
                                   (self.config.function_name,))
        name = physical_name(row["stack"], f"{row['logical_id']}Role") if row else f"{self.config.function_name}-role"
        return f"arn:aws:iam::{self.settings.account_id}:role/{name}"


def _size(record: Any) -> int:
    """About the bytes a record adds to the payload (the 6 MB limit)."""
    if record.change is not None:
        return int(record.change["dynamodb"].get("SizeBytes", 0)) + 400
    return len(record.data) + len(record.partition_key) + 400


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


def _iso(ts: float) -> str:
    moment = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
