"""What the console shows and does, over the services' own methods and the store's query methods.

Reads go through the services (deployer listings, Lambda configurations, queue counts, mappings,
log events) or, where no service method exists, through read-only `store.query` calls (metric
rows, message peeks, pending async events). Changes go through service methods only:
`QueueService.send/purge/receive_now/delete_batch` and `InvokeService.invoke`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from samlite import pricing
from samlite.errors import NotFoundError, UsageError
from samlite.services.cloudwatch.service import percentile

if TYPE_CHECKING:
    from samlite.core.invoke import InvokeService
    from samlite.core.store import Store
    from samlite.engine.deploy import Deployer
    from samlite.services.cloudwatch.service import MetricsService
    from samlite.services.durable.service import DurableService
    from samlite.services.lambda_.async_invoke import AsyncDispatcher
    from samlite.services.lambda_.esm import EsmManager
    from samlite.services.lambda_.service import LambdaService
    from samlite.services.logs.service import LogService
    from samlite.services.moto_backend.backend import MotoBackend
    from samlite.services.sqs.service import Queue, QueueService

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}(\.fifo)?$")
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,140}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")  # a name or an ARN
PARAMETER_NAME = re.compile(r"^[A-Za-z0-9/_.-]{1,2048}$")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
DOWNLOAD_MAX = 16 * 1024 * 1024  # an object larger than this is refused (413): use `aws s3 cp`
RECENT_INVOCATIONS = 50
CHART_WINDOW_S = 900
CHART_BUCKETS = 60
PEEK_MAX = 50
BODY_PREVIEW = 4096
REDRIVE_MAX = 10_000
EXECUTIONS_MAX = 50  # the executions page and a durable function's page list the newest this many
HISTORY_EVENTS = 1000  # the events of one execution's history the console shows (the CLI pages the rest)
DETAILS_PREVIEW = 4096  # an event's details (results, errors, inputs) are cut to this many characters
HISTORY_SAMPLES = 600  # queue counts kept for the charts: 5 minutes at 2 samples a second
_INVOCATION_COLUMNS = ("id, timestamp_ms, request_id, source, duration_ms, billed_ms, memory_size, max_memory_mb,"
                       " init_ms, cold, error, throttled, concurrency")


def now_ms() -> int:
    return int(time.time() * 1000)


class ConsoleViews:
    def __init__(self, store: "Store", deployer: "Deployer", lambdas: "LambdaService", invoker: "InvokeService",
                 queues: "QueueService", esm: "EsmManager", metrics: "MetricsService", logs: "LogService",
                 async_dispatcher: "AsyncDispatcher", cloud: "MotoBackend | None" = None,
                 durable: "DurableService | None" = None) -> None:
        self.store = store
        self.durable = durable  # durable executions: read from the backend only once it runs
        self.cloud = cloud  # S3, DynamoDB, SNS, ... (moto): the Data pages, read-only
        self.deployer = deployer
        self.lambdas = lambdas
        self.invoker = invoker
        self.queues = queues
        self.esm = esm
        self.metrics = metrics
        self.logs = logs
        self.async_dispatcher = async_dispatcher
        # queue name -> deque of [t_ms, visible, in_flight, delayed], filled while a page listens
        self.history: dict[str, deque[list[int]]] = {}
        self._sampled_ms = 0
        self._last_counts: list[dict[str, Any]] = []

    # --- overview and stacks ---------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        return {"stacks": self.deployer.cli_stacks(), "functions": self.lambdas.cli_functions(),
                "queues": self.queues.cli_list_queues(), "async": self.async_counts()}

    def stacks(self) -> list[dict[str, Any]]:
        out = []
        for stack in self.deployer.cli_stacks():
            name = stack["stack"]
            out.append({**stack, "resources": self.deployer.cli_resources(name),
                        "outputs": self.deployer.cli_outputs(name), "endpoints": self.deployer.cli_endpoints(name),
                        "last_change_set": self.deployer.last_changes.get(name)})
        return out

    # --- functions -------------------------------------------------------------------------
    def function_name(self, name: str) -> str:
        if not FUNCTION_NAME.match(name):
            raise UsageError(f"bad function name {name!r}")
        if self.lambdas.configuration(name) is None:
            raise NotFoundError(f"function {name!r} is not deployed")
        return name

    def function(self, name: str) -> dict[str, Any]:
        name = self.function_name(name)
        return {"name": name, "configuration": self.lambdas.configuration(name),
                "mappings": self.esm.list_mappings(function_name=name),
                "invocations": self.invocations(name), "charts": self.charts(name),
                "log_cursor": self.logs.last_id(), "metrics_cursor": self._metrics_top()}

    def _metrics_top(self) -> int:
        row = self.store.query_one("SELECT MAX(id) FROM metrics")
        return int(row[0] or 0) if row else 0

    def invocations(self, name: str, limit: int = RECENT_INVOCATIONS) -> list[dict[str, Any]]:
        rows = self.store.query(f"SELECT {_INVOCATION_COLUMNS} FROM metrics WHERE function_name = ?"
                                " ORDER BY timestamp_ms DESC LIMIT ?", (name, limit))
        return [_invocation(r) for r in rows]

    def charts(self, name: str, window_s: int = CHART_WINDOW_S, buckets: int = CHART_BUCKETS) -> dict[str, Any]:
        """Per-bucket invocations, errors, throttles, duration p50/p99, max concurrency and cost."""
        end = now_ms()
        start = end - window_s * 1000
        width = window_s * 1000 // buckets
        rows = self.store.query(
            "SELECT timestamp_ms, duration_ms, billed_ms, memory_size, error, throttled, concurrency, architecture"
            " FROM metrics WHERE function_name = ? AND timestamp_ms > ? AND source != 'tune'", (name, start))
        inv = [0] * buckets
        err = [0] * buckets
        thr = [0] * buckets
        conc = [0] * buckets
        cost = [0.0] * buckets
        durations: list[list[float]] = [[] for _ in range(buckets)]
        price = pricing.GB_SECOND_PRICE
        for ts, duration, billed, memory, error, throttled, concurrency, arch in rows:
            b = min(buckets - 1, (ts - start) // width)
            if throttled:
                thr[b] += 1
                continue
            inv[b] += 1
            if error is not None:
                err[b] += 1
            conc[b] = max(conc[b], concurrency or 0)
            durations[b].append(duration)
            cost[b] += pricing.request_cost(1)
            if pricing.MIN_MEMORY_MB <= memory <= pricing.MAX_MEMORY_MB:
                cost[b] += pricing.gb_seconds(memory, billed) * price.get(arch, price["x86_64"])
        return {"start_ms": start, "bucket_ms": width, "invocations": inv, "errors": err, "throttles": thr,
                "p50": [_pct(d, 0.50) for d in durations], "p99": [_pct(d, 0.99) for d in durations],
                "concurrency": conc, "cost_usd": [round(c, 10) for c in cost]}

    def log_events(self, name: str, after_id: int | None, limit: int = 200) -> list[dict[str, Any]]:
        events = self.logs.events(f"/aws/lambda/{name}", after_id=after_id, limit=limit,
                                  newest_first=after_id is None)
        return [{"id": e.id, "timestamp": e.timestamp, "stream": e.stream, "message": e.message} for e in events]

    async def invoke(self, name: str, payload: bytes) -> dict[str, Any]:
        from samlite.core import invoke as inv

        name = self.function_name(name)
        try:
            result = await self.invoker.invoke(name, payload, log_tail=True, source="console")
        except inv.TooManyRequests as exc:
            raise UsageError(f"TooManyRequestsException: {exc.message} (Reason: {exc.reason})") from None
        except (inv.FunctionNotFound, inv.RequestTooLarge, inv.EnvironmentWaitTimeout, inv.InvalidRequestContent,
                inv.InvalidParameterValue) as exc:
            raise UsageError(f"{type(exc).__name__}: {exc.message}") from None
        return {"status_code": result.status_code, "request_id": result.request_id,
                "function_error": result.function_error, "error_type": result.error_type,
                "payload": result.payload.decode("utf-8", "replace"), "log_tail": result.log_tail}

    @staticmethod
    def samples() -> dict[str, Any]:
        """The `samlite generate-event` samples, one per kind, for the invoke form."""
        from samlite.sample_events import GENERATORS

        opts = {"body": None, "queue_name": None, "path": None, "method": None, "resource": None, "stage": None,
                "rule_name": None, "region": "us-east-1"}
        seen: set[Any] = set()
        out = {}
        for (service, event), build in GENERATORS.items():
            if build not in seen:
                seen.add(build)
                out[f"{service} {event}"] = build(dict(opts))
        return out

    # --- queues ----------------------------------------------------------------------------
    def queue_of(self, name: str) -> "Queue":
        if not QUEUE_NAME.match(name):
            raise UsageError(f"bad queue name {name!r}: 1-80 letters, digits, '-' or '_' (plus .fifo)")
        q = self.queues.queues.get(name)
        if q is None:
            raise NotFoundError(f"no queue {name!r}")
        return q

    def queue(self, name: str) -> dict[str, Any]:
        q = self.queue_of(name)
        visible, in_flight, delayed = self.queues.counts(q)
        mappings = []
        for m in self.esm.list_mappings(event_source_arn=q.arn):
            mappings.append({**m, "invocations_per_min": self._per_minute(m.get("FunctionArn", ""))})
        return {"name": q.name, "url": q.url, "arn": q.arn, "fifo": q.fifo, "stack": q.stack,
                "logical_id": q.logical_id, "attributes": q.effective(),
                "visible": visible, "in_flight": in_flight, "delayed": delayed,
                "dead_letter_sources": [s.name for s in self.queues.dead_letter_sources(q)],
                "dead_letter_target": (self.queues.by_arn(q.redrive[0]).name  # type: ignore[union-attr]
                                       if q.redrive and self.queues.by_arn(q.redrive[0]) else None),
                "mappings": mappings, "history": list(self.history.get(q.name, ()))}

    def _per_minute(self, function_arn: str) -> int:
        name = function_arn.rsplit(":", 1)[-1]
        row = self.store.query_one("SELECT COUNT(*) FROM metrics WHERE function_name = ? AND timestamp_ms > ?"
                                   " AND source = 'esm' AND throttled = 0", (name, now_ms() - 60_000))
        return int(row[0]) if row else 0

    def peek(self, name: str, limit: int = 10) -> list[dict[str, Any]]:
        """The oldest messages as stored; reading them changes no visibility or receive count."""
        q = self.queue_of(name)
        limit = max(1, min(int(limit), PEEK_MAX))
        now = now_ms()
        rows = self.store.query(
            "SELECT message_id, body, message_attributes_json, sent_ms, visible_ms, receive_count, in_flight,"
            " group_id FROM messages WHERE queue = ? ORDER BY seq LIMIT ?", (q.name, limit))
        return [{"message_id": r["message_id"], "body": r["body"][:BODY_PREVIEW],
                 "truncated": len(r["body"]) > BODY_PREVIEW, "attributes": json.loads(r["message_attributes_json"] or "{}"),
                 "sent_ms": r["sent_ms"], "receive_count": r["receive_count"], "group_id": r["group_id"],
                 "state": "visible" if r["visible_ms"] <= now else "in_flight" if r["in_flight"] else "delayed"}
                for r in rows]

    def send(self, name: str, body: Any, group_id: Any = None) -> dict[str, Any]:
        from samlite.services.sqs.attributes import QueueError

        q = self.queue_of(name)
        if not isinstance(body, str):
            raise UsageError("'body' must be a string")
        entry: dict[str, Any] = {"MessageBody": body}
        if q.fifo:
            entry["MessageGroupId"] = group_id if isinstance(group_id, str) and group_id else "console"
            if not q.content_dedup:
                entry["MessageDeduplicationId"] = str(now_ms())
        try:
            return self.queues.send(q, entry)
        except QueueError as err:
            raise UsageError(f"{err.code}: {err.message}") from None

    def purge(self, name: str) -> dict[str, Any]:
        from samlite.services.sqs.attributes import QueueError

        q = self.queue_of(name)
        try:
            self.queues.purge(q)
        except QueueError as err:
            raise UsageError(f"{err.code}: {err.message}") from None
        return {"purged": q.name}

    async def redrive(self, name: str, source: Any = None) -> dict[str, Any]:
        """Move a dead-letter queue's messages back to its source queue (as StartMessageMoveTask)."""
        dlq = self.queue_of(name)
        sources = [s.name for s in self.queues.dead_letter_sources(dlq)]
        if not sources:
            raise UsageError(f"queue {dlq.name!r} is not the dead-letter queue of any queue")
        if source is None and len(sources) == 1:
            source = sources[0]
        if source not in sources:
            raise UsageError(f"name the source queue: one of {', '.join(sources)}")
        target = self.queue_of(source)
        moved = 0
        while moved < REDRIVE_MAX:
            batch = self.queues.receive_now(dlq, 10, visibility_timeout=60)
            if not batch:
                break
            entries = []
            for m in batch:
                entry: dict[str, Any] = {"MessageBody": m.body}
                if m.attributes_json:
                    entry["MessageAttributes"] = json.loads(m.attributes_json)
                if target.fifo:
                    entry["MessageGroupId"] = m.group_id or "redrive"
                    entry["MessageDeduplicationId"] = m.dedup_id or m.message_id
                entries.append(entry)
            results = self.queues.send_batch(target, entries)
            sent = [m.receipt for m, r in zip(batch, results) if isinstance(r, dict)]
            self.queues.delete_batch(dlq, sent)
            moved += len(sent)
            if len(sent) < len(batch):
                break  # a message the source refuses stays in the DLQ (it reappears after 60 s)
            await asyncio.sleep(0)  # let the gateway serve between batches
        return {"moved": moved, "from": dlq.name, "to": target.name}

    # --- async events ----------------------------------------------------------------------
    def async_counts(self) -> dict[str, int]:
        row = self.store.query_one("SELECT COUNT(*), SUM(attempts > 0 OR last_result_json IS NOT NULL)"
                                   " FROM async_events")
        total, retrying = (row[0] or 0, row[1] or 0) if row else (0, 0)
        return {"pending": total - retrying, "retrying": retrying,
                "finished": len(self.async_dispatcher.finished)}

    def async_events(self) -> dict[str, Any]:
        rows = self.store.query("SELECT request_id, function_name, attempts, next_attempt_ms, received_ms,"
                                " last_result_json FROM async_events ORDER BY received_ms DESC LIMIT 200")
        waiting = []
        for r in rows:
            last = json.loads(r["last_result_json"] or "{}")
            retrying = r["attempts"] > 0 or bool(last)
            waiting.append({"request_id": r["request_id"], "function": r["function_name"],
                            "state": "retrying" if retrying else "pending", "attempts": r["attempts"],
                            "next_attempt_ms": r["next_attempt_ms"], "received_ms": r["received_ms"],
                            "last_error": (last.get("response") or {}).get("errorType")})
        finished = list(reversed(self.async_dispatcher.finished))
        return {"waiting": waiting, "finished": finished, "counts": self.async_counts()}

    # --- durable executions ----------------------------------------------------------------
    async def executions(self, function: str | None, limit: int | None) -> dict[str, Any]:
        """The newest durable executions (of one function), newest first. Nothing is started for
        this: without a running durable backend there is no execution to show."""
        if function is not None:
            function = self.function_name(function)
        limit = EXECUTIONS_MAX if limit is None else limit
        if not 1 <= limit <= EXECUTIONS_MAX:
            raise UsageError(f"limit must be 1-{EXECUTIONS_MAX}, got {limit}")
        rows = await self.durable.console_list(function, limit) if self.durable is not None else []
        return {"executions": rows, "limit": limit}

    @staticmethod
    def execution_arn(arn: str | None) -> str:
        from samlite.services.durable.api import ARN, MAX_ARN

        if not arn:
            raise UsageError("name the execution: ?arn=<durable execution ARN>")
        if len(arn) > MAX_ARN:
            raise UsageError(f"the execution ARN is longer than {MAX_ARN} characters")
        if not ARN.fullmatch(arn):
            raise UsageError(f"bad execution ARN {arn[:200]!r}: expected arn:aws:lambda:<region>:<account>:function:"
                             "<name>:<version>/durable-execution/<name>/<id>")
        return arn

    async def execution(self, arn: str | None) -> dict[str, Any]:
        """One execution and its history: event type, operation name, time, and the details
        (results, errors) as text."""
        arn = self.execution_arn(arn)
        if self.durable is None:
            raise NotFoundError(f"no durable execution {arn}")
        data = await self.durable.console_history(arn, HISTORY_EVENTS)
        data["events"] = [_history_event(e) for e in data["events"]]
        return data

    async def fire(self, arn: Any) -> dict[str, Any]:
        """`samlite executions fire`: complete the execution's pending waits and retries now."""
        arn = self.execution_arn(arn if isinstance(arn, str) else None)
        if self.durable is None:
            raise NotFoundError(f"no durable execution {arn}")
        return await self.durable.console_fire(arn)

    # --- data (the moto backend, read-only) ------------------------------------------------
    def _backend(self) -> "MotoBackend":
        if self.cloud is None:
            raise NotFoundError("this engine serves no emulated cloud services")
        return self.cloud

    async def data(self) -> dict[str, Any]:
        """Every bucket, table, topic, rule, secret and parameter (names only) and the sent mail."""
        from samlite.services.moto_backend import listing

        cloud = self._backend()
        out: dict[str, Any] = {}
        for kind in ("buckets", "tables", "emails"):
            out[kind] = await cloud.cli_list(kind)
        out["secrets"] = [{"name": s["name"], "arn": s["arn"], "stack": s["stack"]}
                          for s in await cloud.cli_list("secrets")]
        out["parameters"] = [{"name": p["name"], "type": p["type"], "stack": p["stack"]}
                             for p in await cloud.cli_list("parameters")]
        out["topics"] = await cloud.read(listing.topics)
        out["rules"] = await cloud.read(listing.rules)
        return out

    @staticmethod
    def bucket_name(name: str) -> str:
        if not BUCKET_NAME.match(name) or ".." in name:
            raise UsageError(f"bad bucket name {name!r}")
        return name

    async def bucket(self, name: str, prefix: str | None) -> dict[str, Any]:
        from samlite.services.moto_backend import listing

        prefix = prefix or ""
        if len(prefix.encode()) > 1024 or CONTROL_CHARS.search(prefix):
            raise UsageError("bad prefix: at most 1024 bytes, no control characters")
        return await self._backend().read(listing.bucket_objects, self.bucket_name(name), prefix)

    async def download(self, bucket: str, key: str | None) -> "Download":
        """One object's bytes, as an attachment (never rendered on the console's origin)."""
        from samlite.services.moto_backend import listing

        bucket = self.bucket_name(bucket)
        if not key or len(key.encode()) > 1024 or CONTROL_CHARS.search(key):
            raise UsageError("bad object key: 1-1024 bytes, no control characters (pass it as ?key=)")
        size, content_type = await self._backend().read(listing.object_size, bucket, key)
        if size > DOWNLOAD_MAX:
            raise TooLarge(f"{key!r} is {size} bytes; the console downloads at most {DOWNLOAD_MAX} bytes"
                           f" (use `aws s3 cp s3://{bucket}/{key} .`)")
        body = await self._backend().read(listing.object_body, bucket, key, DOWNLOAD_MAX)
        if len(body) > DOWNLOAD_MAX:  # it grew between the two reads
            raise TooLarge(f"{key!r} is larger than {DOWNLOAD_MAX} bytes")
        return Download(body, key.rsplit("/", 1)[-1] or "object", content_type)

    async def table(self, name: str) -> dict[str, Any]:
        from samlite.services.moto_backend import listing

        if not TABLE_NAME.match(name):
            raise UsageError(f"bad table name {name!r}: 3-255 letters, digits, '_', '-' or '.'")
        return await self._backend().read(listing.table_items, name)

    async def secret(self, name: str | None) -> dict[str, Any]:
        """A secret's value: only on an explicit request (the page asks on a click)."""
        from samlite.services.moto_backend import listing

        if not name or not SECRET_NAME.match(name):
            raise UsageError(f"bad secret name {name!r}")
        return await self._backend().read(listing.secret_value, name)

    async def parameter(self, name: str | None) -> dict[str, Any]:
        from samlite.services.moto_backend import listing

        if not name or not PARAMETER_NAME.match(name):
            raise UsageError(f"bad parameter name {name!r}")
        return await self._backend().read(listing.parameter_value, name)

    # --- live pulse (server-sent events) ---------------------------------------------------
    def pulse(self) -> dict[str, Any]:
        """The small state every open page follows: queue counts, cursors, async counts."""
        now = now_ms()
        record = now - self._sampled_ms >= 400  # several pages share one history (and one count)
        if not record:
            return {"t": now, "queues": self._last_counts, "metrics_id": self._metrics_top(),
                    "async": self.async_counts()}
        queues = []
        for q in self.queues.list_queues():
            visible, in_flight, delayed = self.queues.counts(q)
            queues.append({"name": q.name, "visible": visible, "in_flight": in_flight, "delayed": delayed})
            self.history.setdefault(q.name, deque(maxlen=HISTORY_SAMPLES)).append([now, visible, in_flight, delayed])
        self._sampled_ms = now
        self._last_counts = queues
        return {"t": now, "queues": queues, "metrics_id": self._metrics_top(),
                "async": self.async_counts()}

    def new_invocations(self, name: str, after_id: int, limit: int = 200) -> tuple[list[dict[str, Any]], int]:
        """Invocations of `name` recorded after metric row `after_id` (a rowid range scan), and the
        new cursor (it jumps to the newest row under heavy load, so the page stays live)."""
        rows = self.store.query(f"SELECT function_name, {_INVOCATION_COLUMNS} FROM metrics WHERE id > ?"
                                " ORDER BY id LIMIT ?", (after_id, limit))
        if not rows:
            return [], after_id
        cursor = rows[-1]["id"]
        if len(rows) == limit:
            cursor = max(cursor, self._metrics_top())
        return [_invocation(r) for r in rows if r["function_name"] == name], cursor


class TooLarge(UsageError):
    """A request for more than the console hands out (413)."""


class Download:
    """A file answer (an S3 object), sent as an attachment instead of JSON."""

    def __init__(self, body: bytes, filename: str, content_type: str) -> None:
        self.body = body
        self.filename = filename
        self.content_type = content_type


def _invocation(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "timestamp_ms": r["timestamp_ms"], "request_id": r["request_id"], "source": r["source"],
            "duration_ms": round(r["duration_ms"], 2), "billed_ms": r["billed_ms"], "memory_size": r["memory_size"],
            "max_memory_mb": r["max_memory_mb"], "init_ms": r["init_ms"], "cold": bool(r["cold"]),
            "status": "throttled" if r["throttled"] else "error" if r["error"] is not None else "ok",
            "error": r["error"], "concurrency": r["concurrency"]}


def _history_event(event: dict[str, Any]) -> dict[str, Any]:
    """A history event for the page: its details (every `...Details` field) as one JSON text."""
    details = {k: v for k, v in event.items() if k.endswith("Details")}
    text = json.dumps(details, indent=1, ensure_ascii=False) if details else ""
    return {"id": event.get("EventId"), "type": event.get("EventType"), "name": event.get("Name"),
            "sub_type": event.get("SubType"), "timestamp": event.get("EventTimestamp"),
            "details": text[:DETAILS_PREVIEW], "truncated": len(text) > DETAILS_PREVIEW}


def _pct(values: list[float], q: float) -> float | None:
    value = percentile(values, q * 100)  # nearest rank, as `samlite metrics` and CloudWatch
    return None if value is None else round(value, 2)
