"""From moto's S3, SNS, EventBridge and Scheduler to samlite's own functions and queues.

The moto backend calls `install`, `begin` and `end` on its worker thread (see capture.py) and
hands the notes of each accepted mutating call to `deliver` on the event loop BEFORE it answers,
so an acknowledged Publish or PutEvents has its deliveries committed in samlite's store
(`async_events` for functions, `messages` for queues) and survives a restart.

- a function is invoked asynchronously through the AsyncDispatcher: its retries, maximum event
  age, destinations and DLQ apply;
- a queue gets the message through QueueService.send (FIFO group and dedup ids kept);
- a topic, another bus or a state machine is called through the moto backend's own request path
  (journalled, and captured in turn), as AWS services call each other;
- http(s) subscribers on this machine get a POST; email and other protocols are recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from samlite.config import ACCESS_KEY_ID
from samlite.core.http import Request
from samlite.services.events import transform
from samlite.services.events.capture import Capture

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.services.lambda_.async_invoke import AsyncDispatcher
    from samlite.services.moto_backend.backend import MotoBackend
    from samlite.services.sqs.service import QueueService

log = logging.getLogger("samlite.engine")

RECORDED_KEPT = 200
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class Bridge:
    def __init__(self, settings: "Settings", dispatcher: "AsyncDispatcher", queues: "QueueService",
                 cloud: "MotoBackend") -> None:
        self.region = settings.region
        self.account_id = settings.account_id
        self.dispatcher = dispatcher
        self.queues = queues
        self.cloud = cloud
        self.capture = Capture(settings.region, settings.account_id)
        self.recorded: deque[dict[str, Any]] = deque(maxlen=RECORDED_KEPT)  # email, sms, ... deliveries
        self.delivered = 0
        self.on_schedules_changed: Any = None  # set by the scheduler
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- the moto backend's hooks (moto thread) -------------------------------------------------
    def install(self) -> None:
        self.capture.install()

    def begin(self) -> None:
        self.capture.begin()

    def end(self) -> list[dict[str, Any]]:
        return self.capture.end()

    # --- delivery (event loop) -------------------------------------------------------------------
    async def deliver(self, notes: list[dict[str, Any]]) -> None:
        for note in notes:
            try:
                await self._deliver(note)
            except Exception:
                log.exception("delivery of %s failed", note.get("kind"))

    async def _deliver(self, note: dict[str, Any]) -> None:
        kind = note["kind"]
        if kind == "lambda":
            self.to_function(note["arn"], note["body"], note.get("source", ""))
        elif kind == "sqs":
            self.to_queue(note["arn"], note["body"], attributes=note.get("attributes"), group_id=note.get("group_id"),
                          dedup_id=note.get("dedup_id"), source=note.get("source", ""))
        elif kind == "publish":
            await self.publish(note["topic_arn"], note["message"], subject=note.get("subject"))
        elif kind == "http":
            self._spawn(self._post(note))
        elif kind == "recorded":
            self.recorded.append(note)
            log.info("sns: %s delivery to %s recorded (%d bytes)", note["protocol"], note["endpoint"],
                     len(note["body"]))
        elif kind == "rule":
            for target in note["targets"]:
                await self._rule_target(note, target)
        elif kind == "schedule":
            await self._schedule_target(note)
        elif kind == "schedules" and self.on_schedules_changed is not None:
            self.on_schedules_changed()

    def to_function(self, arn: str, body: str, source: str) -> bool:
        name = arn.split(":function:", 1)[-1].split(":", 1)[0]
        if name not in self.dispatcher.functions:
            log.warning("%s: function %s does not exist; event dropped", source, arn)
            return False
        self.dispatcher.enqueue(name, body.encode(), str(uuid.uuid4()))
        self.delivered += 1
        return True

    def to_queue(self, arn: str, body: str, *, attributes: dict[str, Any] | None = None, group_id: str | None = None,
                 dedup_id: str | None = None, source: str = "") -> bool:
        from samlite.services.sqs.attributes import QueueError

        queue = self.queues.by_arn(arn)
        if queue is None:
            log.warning("%s: queue %s does not exist; message dropped", source, arn)
            return False
        entry: dict[str, Any] = {"MessageBody": body}
        if attributes:
            entry["MessageAttributes"] = attributes
        if queue.fifo:
            entry["MessageGroupId"] = group_id or "default"
            entry["MessageDeduplicationId"] = dedup_id or str(uuid.uuid4())
        try:
            self.queues.send(queue, entry)
        except QueueError as err:
            log.warning("%s: queue %s refused the message: %s", source, arn, err)
            return False
        self.delivered += 1
        return True

    # --- calls into moto-backed services, through the backend's request path ---------------------
    async def publish(self, topic_arn: str, message: str, subject: str | None = None,
                      attributes: dict[str, dict[str, str]] | None = None) -> bool:
        form: dict[str, str] = {"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic_arn, "Message": message}
        if subject:
            form["Subject"] = subject
        for i, (name, value) in enumerate((attributes or {}).items(), 1):
            form[f"MessageAttributes.entry.{i}.Name"] = name
            form[f"MessageAttributes.entry.{i}.Value.DataType"] = value["DataType"]
            form[f"MessageAttributes.entry.{i}.Value.StringValue"] = value["StringValue"]
        return await self._call("sns", urlencode(form).encode(), [
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8")], topic_arn)

    async def put_events(self, entries: list[dict[str, Any]], what: str) -> bool:
        return await self._json("events", "AWSEvents.PutEvents", {"Entries": entries}, what)

    async def start_execution(self, arn: str, payload: str) -> bool:
        return await self._json("states", "AWSStepFunctions.StartExecution",
                                {"stateMachineArn": arn, "input": payload}, arn, "1.0")

    async def _json(self, service: str, target: str, payload: dict[str, Any], what: str, version: str = "1.1") -> bool:
        return await self._call(service, json.dumps(payload).encode(), [
            ("x-amz-target", target), ("content-type", f"application/x-amz-json-{version}")], what)

    async def _call(self, service: str, body: bytes, headers: list[tuple[str, str]], what: str) -> bool:
        auth = (f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20240101/{self.region}/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0")
        request = Request("POST", "/", b"/", b"", [("host", "localhost"), ("authorization", auth), *headers],
                          body, None)
        reply = await self.cloud.handle(request)
        if reply.status >= 400:
            log.warning("%s: %s refused: %s", what, service, reply.body[:300].decode("utf-8", "replace"))
            return False
        if service == "events":
            failed = json.loads(reply.body or b"{}").get("FailedEntryCount", 0)
            if failed:
                log.warning("%s: PutEvents failed: %s", what, reply.body[:300].decode("utf-8", "replace"))
                return False
        return True

    # --- EventBridge targets ----------------------------------------------------------------------
    async def _rule_target(self, note: dict[str, Any], target: dict[str, Any]) -> None:
        event = note["event"]
        payload = transform.target_input(target, event, note["rule_arn"], note["rule"])
        arn = str(target.get("Arn", ""))
        what = f"rule {note['rule']} target {target.get('Id')}"
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        ok = await self.to_target(arn, payload, what, group_id=group, dedup_id=event.get("id"), event=event)
        if not ok:
            self._dead_letter(target, payload, note["rule_arn"], arn)

    async def _schedule_target(self, note: dict[str, Any]) -> None:
        target = note["target"]
        execution = str(uuid.uuid4())
        payload = str(target.get("Input") if target.get("Input") is not None else "{}")
        for name, value in (("schedule-arn", note["schedule_arn"]), ("execution-id", execution),
                            ("scheduled-time", note.get("when_iso", "")), ("attempt-number", "1")):
            payload = payload.replace(f"<aws.scheduler.{name}>", value)
        arn = str(target.get("Arn", ""))
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        ok = await self.to_target(arn, payload, f"schedule {note['schedule_arn']}", group_id=group, dedup_id=execution)
        if not ok:
            self._dead_letter(target, payload, note["schedule_arn"], arn)

    async def to_target(self, arn: str, payload: str, what: str, *, group_id: str | None = None,
                        dedup_id: str | None = None, event: dict[str, Any] | None = None) -> bool:
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service == "lambda":
            return self.to_function(arn, payload, what)
        if service == "sqs":
            return self.to_queue(arn, payload, group_id=group_id, dedup_id=dedup_id, source=what)
        if service == "sns":
            return await self.publish(arn, payload)
        if service == "states":
            return await self.start_execution(arn, payload)
        if service == "events" and ":event-bus/" in arn:
            forwarded = event if event is not None else json.loads(payload)
            return await self.put_events([{
                "Source": forwarded.get("source", "samlite"), "DetailType": forwarded.get("detail-type", ""),
                "Detail": json.dumps(forwarded.get("detail", {})), "Resources": forwarded.get("resources", []),
                "EventBusName": arn}], what)
        log.warning("%s: target %s is not run locally; event dropped", what, arn)
        return False

    def _dead_letter(self, target: dict[str, Any], payload: str, source_arn: str, target_arn: str) -> None:
        dlq = str((target.get("DeadLetterConfig") or {}).get("Arn") or "")
        if not dlq:
            return
        attrs = {"ERROR_CODE": {"DataType": "String", "StringValue": "RESOURCE_NOT_FOUND"},
                 "ERROR_MESSAGE": {"DataType": "String", "StringValue": f"Target {target_arn} could not be reached"},
                 "RULE_ARN": {"DataType": "String", "StringValue": source_arn},
                 "TARGET_ARN": {"DataType": "String", "StringValue": target_arn}}
        self.to_queue(dlq, payload, attributes=attrs, source=f"{source_arn} dead-letter queue")

    # --- async invocation destinations of type SNS and EventBridge ---------------------------------
    def destination(self, kind: str, arn: str, body: str, attributes: dict[str, Any] | None = None) -> None:
        """Called by the AsyncDispatcher inside its transaction: the call runs right after it."""
        self._spawn(self._destination(kind, arn, body, attributes))

    async def _destination(self, kind: str, arn: str, body: str, attributes: dict[str, Any] | None) -> None:
        if kind == "SNS":
            await self.publish(arn, body, attributes=attributes)
        elif kind == "EventBridge":
            record = json.loads(body)
            condition = (record.get("requestContext") or {}).get("condition")
            function_arn = str((record.get("requestContext") or {}).get("functionArn", ""))
            await self.put_events([{
                "Source": "lambda",
                "DetailType": "Lambda Function Invocation Result - " + ("Success" if condition == "Success"
                                                                        else "Failure"),
                "Detail": body, "Resources": [function_arn.rsplit(":", 1)[0]] if function_arn else [],
                "EventBusName": arn}], f"destination {arn}")

    # --- http(s) subscribers -----------------------------------------------------------------------
    async def _post(self, note: dict[str, Any]) -> None:
        url = note["url"]
        if urlsplit(url).hostname not in _LOCAL_HOSTS:
            log.warning("sns: http(s) subscriber %s is not on this machine; notification recorded only", url)
            self.recorded.append({**note, "protocol": "http"})
            return
        import urllib.request

        headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification",
                   "x-amz-sns-message-id": note["message_id"], "x-amz-sns-topic-arn": note["topic_arn"],
                   "x-amz-sns-subscription-arn": note["subscription_arn"],
                   "User-Agent": "Amazon Simple Notification Service Agent"}
        if note.get("raw"):
            headers["x-amz-sns-rawdelivery"] = "true"
        request = urllib.request.Request(url, data=note["body"].encode(), headers=headers, method="POST")
        try:
            await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=15).read())
            self.delivered += 1
        except Exception as exc:  # noqa: BLE001 - an unreachable subscriber is logged, as SNS records it
            log.warning("sns: POST to %s failed: %s", url, exc)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- control surface ---------------------------------------------------------------------------
    def cli_recorded(self) -> list[dict[str, Any]]:
        """Notifications SNS would have sent by email, SMS, ... (newest last)."""
        return [{k: v for k, v in note.items() if k != "kind"} for note in self.recorded]
