"""Event source mappings for SQS: pollers that batch messages, invoke, and delete or release.

One `Poller` per enabled mapping runs a set of batch workers (asyncio tasks). Each worker
long-polls the queue, closes a batch at BatchSize, at the end of MaximumBatchingWindowInSeconds
or at 6 MB, drops filtered-out messages (deleting them), invokes the function synchronously
through the one invoke path, then deletes the batch on success, keeps it on a function error or
throttle (messages reappear after the visibility timeout; receive counts and redrive apply) and
backs off. With ReportBatchItemFailures only the reported messages stay.

Scaling: a poller starts with a few workers and adds one at a time while every worker keeps
coming back with full batches and the queue still has a backlog, never beyond
ScalingConfig.MaximumConcurrency, the function's reserved concurrency or the local environment
cap; idle extra workers retire. FIFO: a batch holds one message group only, and the queue keeps a
group locked while its batch is in flight, so order holds and a failing group blocks only itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from samlite.core.filters import PatternError, compile_patterns, matches_any
from samlite.services.lambda_ import stream_esm
from samlite.services.lambda_.batch_response import failed_ids

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.invoke import InvokeService
    from samlite.core.store import Store
    from samlite.services.sqs.service import Queue, QueueService, Received
    from samlite.template.model import Stack

log = logging.getLogger("samlite.engine")

BATCH_BYTES = 6 * 1024 * 1024
INITIAL_WORKERS = 5
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 2.0
SCALE_CHECK_S = 0.2


@dataclass
class MappingConfig:
    uuid: str
    function_name: str
    event_source_arn: str
    batch_size: int = 10
    window_s: int = 0
    enabled: bool = True
    report_failures: bool = False
    max_concurrency: int | None = None
    patterns: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    stack: str | None = None
    logical_id: str | None = None
    updated_at: float = 0.0

    @classmethod
    def from_row(cls, row: Any) -> "MappingConfig":
        config = json.loads(row["config_json"] or "{}")
        filters = ((config.get("FilterCriteria") or {}).get("Filters")) or []
        try:
            patterns = compile_patterns([f["Pattern"] for f in filters if isinstance(f, dict) and "Pattern" in f])
        except PatternError as exc:
            log.warning("mapping %s: ignoring invalid filter: %s", row["uuid"], exc)
            patterns = []
        scaling = config.get("ScalingConfig") or {}
        return cls(
            uuid=row["uuid"], function_name=row["function_name"], event_source_arn=row["event_source_arn"],
            batch_size=int(config.get("BatchSize") or 10),
            window_s=int(config.get("MaximumBatchingWindowInSeconds") or 0),
            enabled=bool(row["enabled"]),
            report_failures="ReportBatchItemFailures" in (config.get("FunctionResponseTypes") or []),
            max_concurrency=scaling.get("MaximumConcurrency"), patterns=patterns, raw=config,
            stack=row["stack"], logical_id=row["logical_id"], updated_at=row["updated_at"],
        )

    def signature(self) -> str:
        return json.dumps([self.function_name, self.event_source_arn, self.raw, self.enabled], sort_keys=True)


class EsmManager:
    def __init__(self, settings: "Settings", store: "Store", invoker: "InvokeService", queues: "QueueService",
                 streams: "stream_esm.StreamSource | None" = None) -> None:
        self.settings = settings
        self.streams = streams  # DynamoDB Streams and Kinesis records (the moto backend)
        self.store = store
        self.invoker = invoker
        self.functions = invoker.functions
        self.queues = queues
        self.pollers: dict[str, Poller | stream_esm.StreamPoller] = {}
        self.configs: dict[str, MappingConfig] = {}
        self._started = False
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._started = True
        await self.reload()

    async def stop(self) -> None:
        self._started = False
        pollers, self.pollers = list(self.pollers.values()), {}
        await asyncio.gather(*(p.stop() for p in pollers), return_exceptions=True)

    async def reload(self) -> None:
        """Match running pollers to the mappings table: start new, restart changed, stop removed."""
        configs = {row["uuid"]: MappingConfig.from_row(row) for row in self.store.query("SELECT * FROM mappings")}
        self.configs = configs
        if not self._started:
            return
        stale = []
        for key, running in list(self.pollers.items()):
            config = configs.get(key)
            if config is None or not config.enabled or config.signature() != running.config.signature():
                stale.append(self.pollers.pop(key))
        await asyncio.gather(*(p.stop() for p in stale), return_exceptions=True)
        stream_esm.forget_removed(self.store)
        for key, config in configs.items():
            if config.enabled and key not in self.pollers:
                if stream_esm.stream_kind(config.event_source_arn):
                    if self.streams is None:
                        continue
                    poller: Poller | stream_esm.StreamPoller = stream_esm.StreamPoller(
                        self.settings, self.store, self.invoker, self.queues, self.streams, config)
                else:
                    poller = Poller(self, config)
                self.pollers[key] = poller
                poller.start()

    # --- deploy-time checks ----------------------------------------------------------------
    @staticmethod
    def check_mapping(function_timeout: int, queue_attributes: dict[str, Any], config: dict[str, Any]) -> str | None:
        """The InvalidParameterValueException message AWS would give for this mapping, or None."""
        fifo = str(queue_attributes.get("FifoQueue", "false")).lower() == "true"
        visibility = int(queue_attributes.get("VisibilityTimeout", 30))
        if visibility < function_timeout:
            return (f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
                    f"{function_timeout} seconds")
        batch = int(config.get("BatchSize") or 10)
        window = int(config.get("MaximumBatchingWindowInSeconds") or 0)
        if fifo and not 1 <= batch <= 10:
            return f"BatchSize {batch} is invalid for FIFO queues: it must be between 1 and 10."
        if not 1 <= batch <= 10_000:
            return f"BatchSize {batch} is out of range: it must be between 1 and 10000."
        if not 0 <= window <= 300:
            return "MaximumBatchingWindowInSeconds must be between 0 and 300."
        if fifo and window:
            return "Batching window is not supported for FIFO queues"
        if batch > 10 and window < 1:
            return "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        concurrency = (config.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if concurrency is not None and not 2 <= int(concurrency) <= 1000:
            return "MaximumConcurrency must be between 2 and 1000."
        filters = ((config.get("FilterCriteria") or {}).get("Filters")) or []
        if len(filters) > 5:
            return "FilterCriteria may contain at most 5 filters."
        try:
            compile_patterns([f.get("Pattern", "") for f in filters])
        except PatternError as exc:
            return f"Invalid filter pattern definition: {exc}"
        types = config.get("FunctionResponseTypes") or []
        if any(t != "ReportBatchItemFailures" for t in types):
            return "FunctionResponseTypes may only contain ReportBatchItemFailures."
        return None

    async def check_sources(self, stack: "Stack") -> None:
        """A stream mapping whose stream is not created by this stack needs the stream to exist
        now, as CreateEventSourceMapping does. Raises DeployError."""
        from samlite.errors import DeployError

        own = {r.physical_id for r in stack.resources.values()
               if r.type in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable", "AWS::Kinesis::Stream")}
        for m in stack.mappings.values():
            kind = stream_esm.stream_kind(m.event_source_arn)
            if kind is None:
                continue
            name = m.event_source_arn.split(":table/" if kind == "dynamodb" else ":stream/", 1)[1].split("/")[0]
            if name in own:
                continue
            if self.streams is None or await self.streams.shards(m.event_source_arn) is None:
                raise DeployError(f"{m.logical_id}: InvalidParameterValueException: Stream not found: "
                                  f"{m.event_source_arn}",
                                  hint="Create the table's stream or the Kinesis stream first.")

    # --- Lambda API / CLI views ------------------------------------------------------------
    def describe(self, config: MappingConfig) -> dict[str, Any]:
        settings = self.settings
        raw = config.raw
        out: dict[str, Any] = {
            "UUID": config.uuid,
            "BatchSize": config.batch_size,
            "MaximumBatchingWindowInSeconds": config.window_s,
            "EventSourceArn": config.event_source_arn,
            "FunctionArn": f"arn:aws:lambda:{settings.region}:{settings.account_id}:function:{config.function_name}",
            "LastModified": config.updated_at,
            "State": "Enabled" if config.enabled else "Disabled",
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": list(raw.get("FunctionResponseTypes") or []),
            "EventSourceMappingArn": (f"arn:aws:lambda:{settings.region}:{settings.account_id}:"
                                      f"event-source-mapping:{config.uuid}"),
        }
        if raw.get("FilterCriteria"):
            out["FilterCriteria"] = raw["FilterCriteria"]
        if raw.get("ScalingConfig"):
            out["ScalingConfig"] = raw["ScalingConfig"]
        if stream_esm.stream_kind(config.event_source_arn):
            out.update(stream_esm.describe(raw))
        return out

    def list_mappings(self, function_name: str | None = None, event_source_arn: str | None = None) -> list[dict[str, Any]]:
        return [self.describe(c) for c in sorted(self.configs.values(), key=lambda c: c.uuid)
                if (function_name is None or c.function_name == function_name.split(":function:")[-1].split(":")[0])
                and (event_source_arn is None or c.event_source_arn == event_source_arn)]

    def get_mapping(self, mapping_uuid: str) -> dict[str, Any] | None:
        """The AWS-shaped mapping, or None when no mapping has this UUID."""
        config = self.configs.get(mapping_uuid)
        return self.describe(config) if config is not None else None

    def update_mapping(self, mapping_uuid: str, enabled: bool | None = None,
                       batch_size: int | None = None) -> dict[str, Any] | None:
        """UpdateEventSourceMapping: persist, then restart the poller. ValueError on bad input."""
        config = self.configs.get(mapping_uuid)
        if config is None:
            return None
        raw = dict(config.raw)
        if batch_size is not None:
            queue = self.queues.by_arn(config.event_source_arn)
            limit = 10 if queue is not None and queue.fifo else 10_000
            if not 1 <= int(batch_size) <= limit:
                raise ValueError(f"BatchSize {batch_size} is out of range: it must be between 1 and {limit}.")
            if int(batch_size) > 10 and int(raw.get("MaximumBatchingWindowInSeconds") or 0) < 1 and \
                    not stream_esm.stream_kind(config.event_source_arn):
                raise ValueError("Maximum batch window in seconds must be greater than 0 if maximum batch size is "
                                 "greater than 10")
            raw["BatchSize"] = int(batch_size)
        new_enabled = config.enabled if enabled is None else bool(enabled)
        with self.store.transaction() as db:
            db.execute("UPDATE mappings SET config_json = ?, enabled = ?, state = ?, updated_at = ? WHERE uuid = ?",
                       (json.dumps(raw), int(new_enabled), "Enabled" if new_enabled else "Disabled", time.time(),
                        mapping_uuid))
        row = self.store.query_one("SELECT * FROM mappings WHERE uuid = ?", (mapping_uuid,))
        self.configs[mapping_uuid] = MappingConfig.from_row(row)
        poller = self.pollers.get(mapping_uuid)
        if poller is not None:
            poller.halt()  # from now on it takes no new batch; reload() replaces or removes it
        task = asyncio.get_running_loop().create_task(self.reload())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return self.describe(self.configs[mapping_uuid])

    def cli_list_mappings(self, stack: str | None = None) -> list[dict[str, Any]]:
        out = []
        for c in sorted(self.configs.values(), key=lambda c: (c.stack or "", c.logical_id or "")):
            if stack is not None and c.stack != stack:
                continue
            poller = self.pollers.get(c.uuid)
            out.append({**self.describe(c), "stack": c.stack, "logical_id": c.logical_id,
                        "function": c.function_name, "workers": poller.worker_count if poller else 0,
                        "invocations": poller.invocations if poller else 0})
        return out


class Poller:
    """Polls one queue for one mapping with a growing pool of batch workers."""

    def __init__(self, manager: EsmManager, config: MappingConfig) -> None:
        self.manager = manager  # where the settings, store, queues and invoker come from
        self.config = config
        self.workers: set[asyncio.Task[None]] = set()
        self.invocations = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._full_batches = 0
        self._stopping = False
        self._polling: set[asyncio.Task[Any]] = set()  # workers waiting in a receive

    @property
    def worker_count(self) -> int:
        return len(self.workers)

    def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name=f"esm-{self.config.uuid}")

    def halt(self) -> None:
        """Stop taking batches at once: waiting long polls end now; invocations in flight finish."""
        self._stopping = True
        for task in self._polling:
            task.cancel()

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in (self._supervisor, *self.workers) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.workers.clear()

    def _cap(self) -> int:
        cap = self.config.max_concurrency or 1000
        spec = self.manager.functions.get(self.config.function_name)
        reserved = getattr(spec, "reserved_concurrency", None)
        if reserved is not None:
            cap = min(cap, reserved)
        return max(1, min(cap, self.manager.settings.max_environments))

    def _spawn(self) -> None:
        task = asyncio.create_task(self._worker())
        self.workers.add(task)
        task.add_done_callback(self.workers.discard)

    async def _supervise(self) -> None:
        """Start a few workers; add one while all come back full and a backlog remains."""
        for _ in range(min(INITIAL_WORKERS, self._cap())):
            self._spawn()
        while not self._stopping:
            await asyncio.sleep(SCALE_CHECK_S)
            cap = self._cap()
            if len(self.workers) < min(INITIAL_WORKERS, cap):
                self._spawn()  # replace workers that retired or crashed
                continue
            if self._full_batches >= len(self.workers) and len(self.workers) < cap:
                queue = self.manager.queues.by_arn(self.config.event_source_arn)
                if queue is not None and self.manager.queues.counts(queue)[0] > 0:
                    self._spawn()
            self._full_batches = 0

    async def _worker(self) -> None:
        backoff = 0.0
        idle_rounds = 0
        while not self._stopping:
            try:
                outcome = await self._one_batch()
            except asyncio.CancelledError:
                raise
            except Exception:  # a poller must survive anything one batch does
                log.exception("mapping %s: batch failed", self.config.uuid)
                outcome = "error"
            if outcome == "empty":
                idle_rounds += 1
                # Extra workers retire when the queue is drained; the first few stay.
                if idle_rounds >= 2 and len(self.workers) > INITIAL_WORKERS:
                    return
                continue
            idle_rounds = 0
            if outcome in ("error", "throttled", "missing"):
                backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, backoff * 2))
                await asyncio.sleep(backoff if outcome != "missing" else 1.0)
            else:
                backoff = 0.0

    async def _one_batch(self) -> str:
        config = self.config
        queues = self.manager.queues
        queue = queues.by_arn(config.event_source_arn)
        if queue is None:
            return "missing"
        task = asyncio.current_task()
        assert task is not None
        self._polling.add(task)
        try:
            batch = await self._collect(queue)
        finally:
            self._polling.discard(task)
        if not batch:
            return "empty"
        if self._stopping:
            # Disabled or reconfigured while this poll waited: hand the messages back untouched.
            queues.change_visibility_batch(queue, [(m.receipt, 0) for m in batch])
            return "empty"
        if len(batch) >= config.batch_size:
            self._full_batches += 1
        records = [self._record(queue, m) for m in batch]
        if config.patterns:
            keep = [matches_any(config.patterns, r) for r in records]
            dropped = [m.receipt for m, k in zip(batch, keep) if not k]
            if dropped:
                queues.delete_batch(queue, dropped)  # filtered out: deleted without invoking
            batch = [m for m, k in zip(batch, keep) if k]
            records = [r for r, k in zip(records, keep) if k]
            if not batch:
                return "ok"
        from samlite.core.invoke import FunctionNotFound, TooManyRequests

        try:
            spec = self.manager.invoker.resolve(config.function_name)
        except FunctionNotFound:
            return "missing"
        payload = json.dumps({"Records": records}).encode()
        self.invocations += 1
        try:
            result = await self.manager.invoker.run(spec, payload, str(uuid.uuid4()), source="esm")
        except TooManyRequests:
            return "throttled"  # messages stay; they reappear after the visibility timeout
        if result.function_error or result.status_code >= 300:
            return "error"  # nothing deleted
        if not config.report_failures:
            queues.delete_batch(queue, [m.receipt for m in batch])
            return "ok"
        failed = failed_ids(result.payload, {m.message_id for m in batch})
        if failed is None:
            return "error"  # invalid response: complete failure
        queues.delete_batch(queue, [m.receipt for m in batch if m.message_id not in failed])
        return "ok"  # with ReportBatchItemFailures Lambda does not back off

    async def _collect(self, queue: "Queue") -> list["Received"]:
        """Long-poll for the first messages, then fill up to BatchSize / window / 6 MB."""
        config = self.config
        queues = self.manager.queues
        first = await queues.receive(queue, min(10, config.batch_size), None, 20, single_group=queue.fifo)
        if not first or queue.fifo:
            return first
        batch = list(first)
        size = sum(len(m.body) for m in batch)
        if config.window_s <= 0:
            # No window: take what is there right now, up to BatchSize, without waiting.
            while len(batch) < config.batch_size and size < BATCH_BYTES:
                more = queues.receive_now(queue, min(10, config.batch_size - len(batch)))
                if not more:
                    break
                batch += more
                size += sum(len(m.body) for m in more)
            return batch
        deadline = time.monotonic() + config.window_s
        while len(batch) < config.batch_size and size < BATCH_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = await queues.receive(queue, min(10, config.batch_size - len(batch)), None, remaining)
            batch += more
            size += sum(len(m.body) for m in more)
        return batch

    def _record(self, queue: "Queue", m: "Received") -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": m.message_id,
            "receiptHandle": m.receipt,
            "body": m.body,
            "attributes": m.system_attributes(),
            "messageAttributes": lambda_attributes(m.attributes_json),
            "md5OfBody": m.md5_body,
        }
        record["attributes"].pop("DeadLetterQueueSourceArn", None)
        if m.md5_attributes:
            record["md5OfMessageAttributes"] = m.md5_attributes
        record["eventSource"] = "aws:sqs"
        record["eventSourceARN"] = queue.arn
        record["awsRegion"] = self.manager.settings.region
        return record


def lambda_attributes(attributes_json: str | None) -> dict[str, Any]:
    """SQS API message attributes -> the camelCase shape of Lambda's SQS event."""
    if not attributes_json:
        return {}
    out = {}
    for name, attr in json.loads(attributes_json).items():
        item: dict[str, Any] = {}
        if "StringValue" in attr:
            item["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            item["binaryValue"] = attr["BinaryValue"]
        item["stringListValues"] = []
        item["binaryListValues"] = []
        item["dataType"] = attr["DataType"]
        out[name] = item
    return out
