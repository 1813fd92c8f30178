"""Asynchronous invocations: durable intake, retries, destinations and dead-letter queues.

`accept()` (installed as `invoker.async_sink`) commits the event to `async_events` before
Invoke answers 202, so an accepted event survives a killed engine. One dispatcher task delivers
due events through the one invoke path, with the same request id on every attempt:

- function error -> retried MaximumRetryAttempts times (default 2), after `async_retry_base`
  seconds and then twice that (AWS: ~1 and ~2 minutes);
- throttle or platform 5xx -> back in the queue with exponential backoff from 1 s (scaled by
  async_retry_base / 60, at least 0.05 s, at most 5 min), not consuming attempts;
- older than MaximumEventAgeInSeconds -> EventAgeExceeded. The whole async clock is compressed
  by the same factor (async_retry_base / 60), the event age included, so a demo or test with a
  short retry base also sees its age limit in proportion (60 s of age = 1 s at base 1).
When an event is finished, the OnSuccess / OnFailure destination gets AWS's invocation record
(`invocation_record`) and the function's DLQ the original event; routing and removing the row
happen in one transaction. SQS and Lambda targets run locally; SNS and EventBridge go through
`external` (the event bridge, right after the transaction); S3 is logged and skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.invoke import InvokeService
    from samlite.core.store import Store
    from samlite.services.sqs.service import QueueService

log = logging.getLogger("samlite.engine")

DEFAULT_MAX_AGE_S = 21_600
DEFAULT_RETRIES = 2
MAX_CONCURRENT = 64
THROTTLE_CAP_S = 300.0
FINISHED_KEPT = 200


def now_ms() -> int:
    return int(time.time() * 1000)


class AsyncDispatcher:
    def __init__(self, settings: "Settings", store: "Store", invoker: "InvokeService", queues: "QueueService") -> None:
        self.settings = settings
        self.store = store
        self.invoker = invoker
        self.functions = invoker.functions
        self.queues = queues
        self._wake = asyncio.Event()
        self._running: set[str] = set()
        self._per_function: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self.delivered = 0
        self._stopping = False
        # The last finished events (rows leave the store when done), for the web console.
        self.finished: deque[dict[str, Any]] = deque(maxlen=FINISHED_KEPT)
        # (type, arn, body, SNS message attributes) -> publishes to a topic or bus; set by the engine.
        self.external: Callable[[str, str, str, dict[str, Any] | None], None] | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self.invoker.async_sink = self.accept
        self._loop_task = asyncio.create_task(self._dispatch_loop(), name="async-dispatcher")

    async def stop(self, grace_s: float = 3.0) -> None:
        # A flag, not only cancel(): on Python 3.11 asyncio.wait_for() swallows a cancel that
        # arrives as the awaited wake-up completes, so under load a cancelled loop ran on forever.
        self._stopping = True
        self._wake.set()
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=grace_s) if tasks else (set(), set())
        if pending:
            log.warning("async dispatcher: %d deliveries still running at stop", len(pending))
        # Cancelled deliveries keep their rows: they run again after the next start.

    # --- intake ----------------------------------------------------------------------------
    async def accept(self, spec: Any, payload: bytes, request_id: str) -> None:
        """Store the event durably (committed) before Invoke answers 202."""
        self.enqueue(spec.name, payload, request_id)

    def enqueue(self, function_name: str, payload: bytes, request_id: str, delay_s: float = 0.0) -> None:
        now = now_ms()
        with self.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO async_events (request_id, function_name, qualifier, payload, attempts,"
                       " next_attempt_ms, received_ms, status, last_result_json) VALUES (?, ?, NULL, ?, 0, ?, ?,"
                       " 'pending', NULL)",
                       (request_id, function_name, payload, now + int(delay_s * 1000), now))
        self._wake.set()

    # --- dispatch --------------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            timeout = 1.0
            try:
                timeout = self._launch_due()
            except Exception:  # keep dispatching
                log.exception("async dispatch failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _launch_due(self) -> float:
        """Start deliveries for due events; return seconds until the next one is due.

        A function with reserved concurrency gets at most that many deliveries at once, so the
        dispatcher does not throttle itself (reserved 0 still runs: that throttle is the user's).
        """
        if self._stopping:
            return 1.0
        now = now_ms()
        rows = self.store.query(
            "SELECT request_id, function_name FROM async_events WHERE status = 'pending' AND next_attempt_ms <= ?"
            " ORDER BY next_attempt_ms LIMIT 1000", (now,))
        for row in rows:
            rid, name = row["request_id"], row["function_name"]
            if rid in self._running:
                continue
            spec = self.functions.get(name)
            reserved = getattr(spec, "reserved_concurrency", None)
            if reserved and self._per_function.get(name, 0) >= reserved:
                continue  # woken again when one of its deliveries finishes
            self._running.add(rid)
            self._per_function[name] = self._per_function.get(name, 0) + 1
            task = asyncio.create_task(self._deliver(rid, name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        nxt = self.store.query_one("SELECT MIN(next_attempt_ms) FROM async_events WHERE status = 'pending'"
                                   " AND next_attempt_ms > ?", (now,))
        if nxt is None or nxt[0] is None:
            return 5.0
        return max(0.005, min(5.0, (nxt[0] - now) / 1000))

    async def _deliver(self, request_id: str, function_name: str) -> None:
        try:
            async with self._slots:
                await self._attempt(request_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad event must not stop the others
            log.exception("async event %s: delivery failed", request_id)
            with self.store.transaction() as db:
                db.execute("UPDATE async_events SET next_attempt_ms = ? WHERE request_id = ?",
                           (now_ms() + 5000, request_id))
        finally:
            self._running.discard(request_id)
            self._per_function[function_name] -= 1
            self._wake.set()

    async def _attempt(self, request_id: str) -> None:
        from samlite.core.invoke import FunctionNotFound, TooManyRequests

        row = self.store.query_one("SELECT * FROM async_events WHERE request_id = ?", (request_id,))
        if row is None or row["status"] != "pending":
            return
        name = row["function_name"]
        config = self._function_config(name)
        invoke_config = config.get("event_invoke_config") or {}
        scale = float(self.settings.async_retry_base) / 60.0
        max_age_ms = int(invoke_config.get("maximum_event_age_seconds") or DEFAULT_MAX_AGE_S) * 1000 * scale
        retries = invoke_config.get("maximum_retry_attempts")
        retries = DEFAULT_RETRIES if retries is None else int(retries)
        state = json.loads(row["last_result_json"] or "{}")
        attempts = int(row["attempts"])
        payload = bytes(row["payload"])
        if now_ms() - row["received_ms"] > max_age_ms:
            self._finish(row, config, "EventAgeExceeded", attempts, state.get("response"))
            return
        try:
            spec = self.invoker.resolve(name)
        except FunctionNotFound:
            log.warning("async event %s: function %s no longer exists; event discarded", request_id, name)
            with self.store.transaction() as db:
                db.execute("DELETE FROM async_events WHERE request_id = ?", (request_id,))
            return
        base = float(self.settings.async_retry_base)
        try:
            result = await self.invoker.run(spec, payload, request_id, source="async")
        except TooManyRequests as exc:
            self._requeue_throttled(row, state, {"statusCode": 429, "throttle": exc.reason}, base)
            return
        response = {
            "statusCode": result.status_code,
            "executedVersion": result.executed_version or "$LATEST",
            "functionError": result.function_error,
            "payload": result.payload.decode("utf-8", "replace") if result.payload else "",
            "errorType": result.error_type,
        }
        if result.status_code >= 500:
            self._requeue_throttled(row, state, response, base)
            return
        attempts += 1
        if not result.function_error:
            self._finish(row, config, "Success", attempts, response)
            return
        if attempts > retries:
            self._finish(row, config, "RetriesExhausted", attempts, response)
            return
        delay_s = base * (2 ** (attempts - 1))
        with self.store.transaction() as db:
            db.execute("UPDATE async_events SET attempts = ?, next_attempt_ms = ?, last_result_json = ?"
                       " WHERE request_id = ?",
                       (attempts, now_ms() + int(delay_s * 1000), json.dumps({**state, "response": response}),
                        request_id))

    def _requeue_throttled(self, row: Any, state: dict[str, Any], response: dict[str, Any], base: float) -> None:
        throttles = int(state.get("throttles", 0))
        delay_s = max(0.05, min(THROTTLE_CAP_S, 2.0 ** throttles) * base / 60.0)
        state = {**state, "throttles": throttles + 1}
        if "response" not in state or response.get("statusCode", 0) >= 500:
            state["response"] = response
        with self.store.transaction() as db:
            db.execute("UPDATE async_events SET next_attempt_ms = ?, last_result_json = ? WHERE request_id = ?",
                       (now_ms() + int(delay_s * 1000), json.dumps(state), row["request_id"]))

    def _function_config(self, name: str) -> dict[str, Any]:
        row = self.store.query_one("SELECT config_json FROM functions WHERE name = ?", (name,))
        try:
            return json.loads(row["config_json"]) if row else {}
        except ValueError:
            return {}

    # --- finishing: destinations and DLQ ---------------------------------------------------
    def _finish(self, row: Any, config: dict[str, Any], condition: str, attempts: int,
                response: dict[str, Any] | None) -> None:
        invoke_config = config.get("event_invoke_config") or {}
        destination = invoke_config.get("on_success" if condition == "Success" else "on_failure")
        dlq = config.get("dead_letter_queue") if condition != "Success" else None
        name = row["function_name"]
        function_arn = config.get("arn") or (f"arn:aws:lambda:{self.settings.region}:"
                                             f"{self.settings.account_id}:function:{name}")
        payload = bytes(row["payload"])
        with self.store.transaction() as db:
            if destination:
                record = invocation_record(row["request_id"], function_arn, condition, attempts, payload, response)
                self._route(destination, json.dumps(record), name, "destination")
            if dlq:
                self._dead_letter(dlq, payload, row["request_id"], response, name)
            db.execute("DELETE FROM async_events WHERE request_id = ?", (row["request_id"],))
        self.delivered += 1
        self.finished.append({"request_id": row["request_id"], "function": name, "condition": condition,
                              "attempts": attempts, "at_ms": now_ms(),
                              "destination": (destination or {}).get("arn"), "dead_letter": (dlq or {}).get("arn"),
                              "outcome": "delivered" if destination or dlq else
                              "succeeded" if condition == "Success" else "dropped"})
        if condition != "Success" and not destination and not dlq:
            log.info("async event %s for %s discarded (%s)", row["request_id"], name, condition)

    def _route(self, destination: dict[str, Any], body: str, function_name: str, what: str) -> None:
        kind = str(destination.get("type") or _type_from_arn(destination.get("arn", "")))
        arn = str(destination.get("arn") or "")
        if kind == "SQS":
            queues = self.queues
            queue = queues.by_arn(arn)
            if queue is None:
                log.warning("%s: %s queue %s does not exist; record dropped", function_name, what, arn)
                return
            queues.send(queue, {"MessageBody": body})
        elif kind == "Lambda":
            target = arn.split(":function:", 1)[-1].split(":", 1)[0]
            if target not in self.functions:
                log.warning("%s: %s function %s does not exist; record dropped", function_name, what, arn)
                return
            self.enqueue(target, body.encode(), str(uuid.uuid4()))
        elif kind in ("SNS", "EventBridge") and self.external is not None:
            self.external(kind, arn, body, None)
        else:
            log.warning("%s: %s type %s (%s) is not run locally; record dropped", function_name, what, kind, arn)

    def _dead_letter(self, dlq: dict[str, Any], payload: bytes, request_id: str, response: dict[str, Any] | None,
                     function_name: str) -> None:
        kind = str(dlq.get("type") or _type_from_arn(dlq.get("arn", "")))
        arn = str(dlq.get("arn") or "")
        response = response or {}
        attrs = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(int(response.get("statusCode") or 200))},
            "ErrorMessage": {"DataType": "String", "StringValue": _first_kb(_error_message(response) or "Unknown error")},
        }
        if kind == "SNS" and self.external is not None:
            self.external("SNS", arn, payload.decode("utf-8", "replace"), attrs)
            return
        if kind != "SQS":
            log.warning("%s: dead-letter target type %s (%s) is not run locally; event dropped",
                        function_name, kind, arn)
            return
        queue = self.queues.by_arn(arn)
        if queue is None:
            log.warning("%s: dead-letter queue %s does not exist; event dropped", function_name, arn)
            return
        self.queues.send(queue, {"MessageBody": payload.decode("utf-8", "replace"), "MessageAttributes": attrs})

    # --- control surface -------------------------------------------------------------------
def invocation_record(request_id: str, function_arn: str, condition: str, attempts: int, payload: bytes,
                      response: dict[str, Any] | None) -> dict[str, Any]:
    """The record AWS sends to an async destination: requestContext, requestPayload, responseContext and responsePayload."""
    response = response or {"statusCode": 429, "executedVersion": "$LATEST"}
    context: dict[str, Any] = {"statusCode": int(response.get("statusCode") or 200),
                               "executedVersion": response.get("executedVersion") or "$LATEST"}
    if response.get("functionError"):
        context["functionError"] = response["functionError"]
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {"requestId": request_id, "functionArn": f"{function_arn}:$LATEST",
                           "condition": condition, "approximateInvokeCount": attempts},
        "requestPayload": _parsed(payload.decode("utf-8", "replace")),
        "responseContext": context,
    }
    if "payload" in response:
        record["responsePayload"] = _parsed(response["payload"])
    return record


def _parsed(text: str) -> Any:
    if text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _error_message(response: dict[str, Any]) -> str:
    payload = response.get("payload")
    if payload:
        parsed = _parsed(payload)
        if isinstance(parsed, dict) and parsed.get("errorMessage") is not None:
            return str(parsed["errorMessage"])
        return str(payload)
    if response.get("throttle"):
        return "Rate Exceeded."
    return ""


def _first_kb(text: str) -> str:
    data = text.encode("utf-8")[:1024]
    return data.decode("utf-8", "ignore")


def _type_from_arn(arn: str) -> str:
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 else ""
    return {"sqs": "SQS", "sns": "SNS", "lambda": "Lambda", "events": "EventBridge", "s3": "S3"}.get(service, service)
