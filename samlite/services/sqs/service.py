"""SQS queues over the store: send, receive (long polling), visibility, delete, purge, DLQ redrive.

Messages live in the `messages` table; this service keeps only queue metadata in memory (loaded
from `queues`, refreshed by `reload()` after every deploy) and one wake-up event per queue so a
long poll returns the moment a message arrives. All SQL runs on the event-loop thread, the
store's single writer, so each call below is atomic with respect to every other; every
acknowledged write is committed before the call returns.

Message states: `visible_ms <= now` is visible; `in_flight = 1 AND visible_ms > now` is in flight
(received, not deleted); `in_flight = 0 AND visible_ms > now` is delayed. A visibility timeout
that runs out simply makes `visible_ms <= now` true again. FIFO groups are locked while any of
their messages is in flight. `seq` orders messages and gives FIFO SequenceNumbers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from samlite.errors import NotFoundError, UsageError
from samlite.services.sqs import attributes as qa
from samlite.services.sqs.attributes import QueueError, no_queue
from samlite.services.sqs.md5 import md5_attributes, md5_body

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.store import Store

log = logging.getLogger("samlite.engine")

DEDUP_WINDOW_MS = 5 * 60 * 1000
RECENT_DELETE_S = 60.0
PURGE_INTERVAL_S = 60.0
SWEEP_INTERVAL_S = 5.0
_RECEIPT_TAG = b"SLRH1"

_COLUMNS = ("seq, message_id, body, message_attributes_json, system_attributes_json, md5_body, md5_attributes,"
            " sent_ms, receive_count, first_receive_ms, group_id, dedup_id, source_arn")
_INSERT = ("INSERT INTO messages (seq, queue, message_id, body, message_attributes_json, system_attributes_json,"
           " md5_body, md5_attributes, sent_ms, visible_ms, receive_count, first_receive_ms, receipt, in_flight,"
           " group_id, dedup_id, source_arn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?, ?, ?)")
_MARK_RECEIVED = ("UPDATE messages SET receipt = ?, in_flight = 1, visible_ms = ?, receive_count = receive_count + 1,"
                  " first_receive_ms = COALESCE(first_receive_ms, ?) WHERE seq = ?")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Queue:
    name: str
    arn: str
    url: str
    fifo: bool
    attributes: dict[str, str]  # as set (canonical strings); defaults filled in by `effective()`
    tags: dict[str, str]
    created_at: float
    modified_at: float
    stack: str | None = None
    logical_id: str | None = None
    purged_at: float | None = None
    # parsed hot values
    visibility_timeout: int = 30
    retention_s: int = 345600
    delay_s: int = 0
    max_size: int = qa.MAX_MESSAGE_SIZE
    wait_s: int = 0
    content_dedup: bool = False
    group_dedup: bool = False
    redrive: tuple[str, int] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def parse(self) -> None:
        a = self.effective()
        self.visibility_timeout = int(a["VisibilityTimeout"])
        self.retention_s = int(a["MessageRetentionPeriod"])
        self.delay_s = int(a["DelaySeconds"])
        self.max_size = int(a["MaximumMessageSize"])
        self.wait_s = int(a["ReceiveMessageWaitTimeSeconds"])
        self.content_dedup = a.get("ContentBasedDeduplication") == "true"
        self.group_dedup = a.get("DeduplicationScope") == "messageGroup"
        self.redrive = qa.redrive_of(a)

    def effective(self) -> dict[str, str]:
        out = dict(qa.DEFAULTS)
        if self.fifo:
            out.update(qa.FIFO_DEFAULTS)
            out["FifoQueue"] = "true"
        out.update({k: str(v).lower() if isinstance(v, bool) else v if isinstance(v, str) else
                    json.dumps(v) if isinstance(v, dict) else str(v) for k, v in self.attributes.items()})
        if out.get("RedrivePolicy") == "":
            del out["RedrivePolicy"]
        return out

    def notify(self) -> None:
        """Wake every long poll waiting on this queue."""
        self.wake.set()
        self.wake = asyncio.Event()


@dataclass
class Received:
    """One received message with everything the API and the ESM need to render it."""

    seq: int
    message_id: str
    receipt: str
    body: str
    attributes_json: str | None
    system_json: str | None
    md5_body: str
    md5_attributes: str | None
    sent_ms: int
    first_receive_ms: int
    receive_count: int
    group_id: str | None
    dedup_id: str | None
    source_arn: str | None
    fifo: bool
    sender_id: str

    def system_attributes(self, wanted: Iterable[str] | None = None) -> dict[str, str]:
        out = {
            "SenderId": self.sender_id,
            "SentTimestamp": str(self.sent_ms),
            "ApproximateReceiveCount": str(self.receive_count),
            "ApproximateFirstReceiveTimestamp": str(self.first_receive_ms),
        }
        if self.system_json:
            trace = json.loads(self.system_json).get("AWSTraceHeader")
            if trace:
                out["AWSTraceHeader"] = trace
        if self.fifo:
            out["SequenceNumber"] = sequence_number(self.seq)
            out["MessageGroupId"] = self.group_id or ""
            out["MessageDeduplicationId"] = self.dedup_id or ""
        if self.source_arn:
            out["DeadLetterQueueSourceArn"] = self.source_arn
        if wanted is None:
            return out
        names = set(wanted)
        if "All" in names:
            return out
        return {k: v for k, v in out.items() if k in names}


def sequence_number(seq: int) -> str:
    return f"{seq:020d}"


def make_receipt(queue: str, message_id: str) -> str:
    raw = b"\x1f".join((_RECEIPT_TAG, queue.encode(), message_id.encode(), os.urandom(12)))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_receipt(handle: Any) -> tuple[str, str]:
    """(queue name, message id) of a well-formed handle; ReceiptHandleIsInvalid otherwise."""
    try:
        if not isinstance(handle, str) or not handle or len(handle) > 2048:
            raise ValueError
        raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
        tag, queue, message_id, _ = raw.split(b"\x1f", 3)
        if tag != _RECEIPT_TAG:
            raise ValueError
        return queue.decode(), message_id.decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise QueueError("ReceiptHandleIsInvalid",
                         f'The input receipt handle "{handle}" is not a valid receipt handle.') from None


class QueueService:
    def __init__(self, settings: "Settings", store: "Store", aws_url: str,
                 stopping: asyncio.Event | None = None) -> None:
        self.store = store
        self.settings = settings
        self.region = settings.region
        self.account = settings.account_id
        self.aws_url = aws_url
        self._stop = stopping  # set when the engine stops: long polls return at once
        self.queues: dict[str, Queue] = {}
        self._by_arn: dict[str, Queue] = {}
        self._next_seq = 1
        self._sweeper: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        row = self.store.query_one("SELECT seq FROM sqlite_sequence WHERE name = 'messages'")
        top = self.store.query_one("SELECT MAX(seq) AS m FROM messages")
        self._next_seq = max(row[0] if row else 0, (top["m"] or 0) if top else 0) + 1
        self.reload()
        self._sweeper = asyncio.create_task(self._sweep_loop())

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        for q in self.queues.values():
            q.notify()

    def reload(self) -> None:
        """Re-read queue metadata from the store (after deploys); drop messages of vanished queues."""
        old = self.queues
        fresh: dict[str, Queue] = {}
        for row in self.store.query("SELECT * FROM queues"):
            q = Queue(
                name=row["name"], arn=row["arn"], url=self.url_for(row["name"]), fifo=bool(row["fifo"]),
                attributes=json.loads(row["attributes_json"] or "{}"), tags=json.loads(row["tags_json"] or "{}"),
                created_at=row["created_at"], modified_at=row["modified_at"], stack=row["stack"],
                logical_id=row["logical_id"], purged_at=row["purged_at"],
            )
            if row["name"] in old:
                q.wake = old[row["name"]].wake  # keep current long polls attached
            q.parse()
            fresh[q.name] = q
        self.queues = fresh
        self._by_arn = {q.arn: q for q in fresh.values()}
        gone = set(old) - set(fresh)
        if gone:
            with self.store.transaction() as db:
                db.execute("DELETE FROM messages WHERE queue NOT IN (SELECT name FROM queues)")
                db.execute("DELETE FROM fifo_dedup WHERE queue NOT IN (SELECT name FROM queues)")
            for name in gone:
                old[name].notify()
        for q in fresh.values():
            q.notify()  # attribute changes (e.g. delays) may change what a waiter can receive

    async def _sweep_loop(self) -> None:
        """Delete messages past retention and expired FIFO dedup records."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                self.sweep()
            except Exception:  # keep sweeping
                log.exception("queue sweep failed")

    def sweep(self) -> int:
        now = now_ms()
        removed = 0
        with self.store.transaction() as db:
            for q in list(self.queues.values()):
                cur = db.execute("DELETE FROM messages WHERE queue = ? AND sent_ms < ?",
                                 (q.name, now - q.retention_s * 1000))
                removed += cur.rowcount
            db.execute("DELETE FROM fifo_dedup WHERE expires_ms < ?", (now,))
        return removed

    # --- lookup ----------------------------------------------------------------------------
    def url_for(self, name: str) -> str:
        return f"{self.aws_url}/{self.account}/{name}"

    def arn_for(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    def get(self, url_or_name: Any) -> Queue:
        """A queue by URL (ours, AWS-style or legacy hosts: the last path segment) or name."""
        if not isinstance(url_or_name, str) or not url_or_name:
            raise QueueError("MissingParameter", "The request must contain the parameter QueueUrl.")
        parts = url_or_name.rstrip("/").rsplit("/", 2)
        name = parts[-1]
        if len(parts) == 3 and parts[-2].isdigit() and parts[-2] != self.account:
            raise no_queue()  # another account's queue: there is none locally
        q = self.queues.get(name)
        if q is None:
            raise no_queue()
        return q

    def by_arn(self, arn: str) -> Queue | None:
        return self._by_arn.get(arn)

    # --- queue management ------------------------------------------------------------------
    def create_queue(self, name: Any, attributes: dict[str, Any] | None = None,
                     tags: dict[str, str] | None = None) -> Queue:
        attributes = dict(attributes or {})
        fifo_attr = str(attributes.get("FifoQueue", "false")).lower() == "true"
        fifo = fifo_attr or (isinstance(name, str) and name.endswith(".fifo"))
        qa.check_queue_name(name, fifo)
        if fifo and not fifo_attr:
            raise QueueError("InvalidParameterValue",
                             "The name of a non-FIFO queue can only include alphanumeric characters, hyphens, or "
                             "underscores, and be 1 to 80 in length.")
        attrs = qa.normalize_attributes(attributes, fifo=fifo, creating=True, queue_exists=self._exists)
        if tags is not None and not isinstance(tags, dict):
            raise QueueError("InvalidParameterValue", "Tags must be a map.")
        existing = self.queues.get(name)
        if existing is not None:
            current = existing.effective()
            for key, value in attrs.items():
                if key == "FifoQueue":
                    continue
                if current.get(key, "") != value:
                    raise QueueError("QueueNameExists",
                                     f"A queue already exists with the same name and a different value for "
                                     f"attribute {key}")
            return existing
        row = self.store.query_one("SELECT deleted_at FROM deleted_queues WHERE name = ?", (name,))
        if row and time.time() - row["deleted_at"] < RECENT_DELETE_S:
            raise QueueError("QueueDeletedRecently",
                             "You must wait 60 seconds after deleting a queue before you can create another "
                             "with the same name.")
        attrs.pop("FifoQueue", None)
        if attrs.get("RedrivePolicy") == "":
            del attrs["RedrivePolicy"]
        now = time.time()
        arn = self.arn_for(name)
        with self.store.transaction() as db:
            db.execute("DELETE FROM deleted_queues WHERE name = ?", (name,))
            db.execute(
                "INSERT INTO queues (name, arn, stack, logical_id, fifo, attributes_json, tags_json, created_at,"
                " modified_at) VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?)",
                (name, arn, int(fifo), json.dumps(attrs), json.dumps({str(k): str(v) for k, v in (tags or {}).items()}),
                 now, now),
            )
        q = Queue(name=name, arn=arn, url=self.url_for(name), fifo=fifo, attributes=attrs,
                  tags={str(k): str(v) for k, v in (tags or {}).items()}, created_at=now, modified_at=now)
        q.parse()
        self.queues[name] = q
        self._by_arn[arn] = q
        return q

    def _exists(self, arn: str) -> tuple[bool, bool]:
        q = self._by_arn.get(arn)
        return (q is not None, bool(q and q.fifo))

    def delete_queue(self, q: Queue) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM messages WHERE queue = ?", (q.name,))
            db.execute("DELETE FROM fifo_dedup WHERE queue = ?", (q.name,))
            db.execute("DELETE FROM queues WHERE name = ?", (q.name,))
            db.execute("INSERT OR REPLACE INTO deleted_queues (name, deleted_at) VALUES (?, ?)", (q.name, time.time()))
        self.queues.pop(q.name, None)
        self._by_arn.pop(q.arn, None)
        q.notify()

    def set_attributes(self, q: Queue, attributes: Any) -> None:
        if not isinstance(attributes, dict):
            raise QueueError("MissingParameter", "The request must contain the parameter Attributes.")
        attrs = qa.normalize_attributes(attributes, fifo=q.fifo, creating=False, queue_exists=self._exists)
        merged = {**q.attributes, **attrs}
        for key in [k for k, v in merged.items() if v == "" and k in ("RedrivePolicy", "RedriveAllowPolicy", "Policy")]:
            del merged[key]
        now = time.time()
        with self.store.transaction() as db:
            db.execute("UPDATE queues SET attributes_json = ?, modified_at = ? WHERE name = ?",
                       (json.dumps(merged), now, q.name))
        q.attributes = merged
        q.modified_at = now
        q.parse()
        q.notify()

    def get_attributes(self, q: Queue, names: Iterable[str] | None) -> dict[str, str]:
        wanted = list(names or [])
        for name in wanted:
            if name != "All" and name not in qa.SETTABLE and name not in qa.READ_ONLY:
                raise QueueError("InvalidAttributeName", f"Unknown Attribute {name}.")
        if not wanted:
            return {}
        values = q.effective()
        values.pop("RedrivePolicy", None) if not q.redrive else None
        values["QueueArn"] = q.arn
        values["CreatedTimestamp"] = str(int(q.created_at))
        values["LastModifiedTimestamp"] = str(int(q.modified_at))
        if "All" in wanted or any(n.startswith("ApproximateNumberOfMessages") for n in wanted):
            visible, in_flight, delayed = self.counts(q)
            values["ApproximateNumberOfMessages"] = str(visible)
            values["ApproximateNumberOfMessagesNotVisible"] = str(in_flight)
            values["ApproximateNumberOfMessagesDelayed"] = str(delayed)
        if "All" in wanted:
            return values
        return {n: values[n] for n in wanted if n in values}

    def counts(self, q: Queue) -> tuple[int, int, int]:
        """Visible, in-flight and delayed messages: three COUNTs over the covering indexes
        (queue, visible_ms) and (queue, in_flight, visible_ms), so a large queue costs an index
        range, never a read of its rows (bodies). Messages past retention count until the sweep
        (every SWEEP_INTERVAL_S) deletes them: the numbers are approximate, as on AWS."""
        now = now_ms()
        visible = self.store.scalar("SELECT COUNT(*) FROM messages INDEXED BY messages_ready"
                                    " WHERE queue = ? AND visible_ms <= ?", (q.name, now))
        in_flight = self.store.scalar("SELECT COUNT(*) FROM messages INDEXED BY messages_inflight"
                                      " WHERE queue = ? AND in_flight = 1 AND visible_ms > ?", (q.name, now))
        delayed = self.store.scalar("SELECT COUNT(*) FROM messages INDEXED BY messages_inflight"
                                    " WHERE queue = ? AND in_flight = 0 AND visible_ms > ?", (q.name, now))
        return visible or 0, in_flight or 0, delayed or 0

    def list_queues(self, prefix: str | None = None) -> list[Queue]:
        return [self.queues[n] for n in sorted(self.queues) if not prefix or n.startswith(prefix)]

    def dead_letter_sources(self, q: Queue) -> list[Queue]:
        return [s for s in self.list_queues() if s.redrive and s.redrive[0] == q.arn]

    def tag(self, q: Queue, tags: Any) -> None:
        if not isinstance(tags, dict) or not tags:
            raise QueueError("MissingParameter", "The request must contain the parameter Tags.")
        self._save_tags(q, {**q.tags, **{str(k): str(v) for k, v in tags.items()}})

    def untag(self, q: Queue, keys: Any) -> None:
        if not isinstance(keys, list) or not keys:
            raise QueueError("MissingParameter", "The request must contain the parameter TagKeys.")
        self._save_tags(q, {k: v for k, v in q.tags.items() if k not in set(keys)})

    def _save_tags(self, q: Queue, tags: dict[str, str]) -> None:
        if len(tags) > 50:
            raise QueueError("InvalidParameterValue", "Too many tags added for queue. The maximum is 50.")
        with self.store.transaction() as db:
            db.execute("UPDATE queues SET tags_json = ? WHERE name = ?", (json.dumps(tags), q.name))
        q.tags = tags

    def purge(self, q: Queue) -> None:
        now = time.time()
        if q.purged_at and now - q.purged_at < PURGE_INTERVAL_S:
            raise QueueError("PurgeQueueInProgress",
                             f"Only one PurgeQueue operation on {q.name} is allowed every 60 seconds.")
        with self.store.transaction() as db:
            db.execute("DELETE FROM messages WHERE queue = ?", (q.name,))
            db.execute("UPDATE queues SET purged_at = ? WHERE name = ?", (now, q.name))
        q.purged_at = now

    # --- send ------------------------------------------------------------------------------
    def send(self, q: Queue, entry: dict[str, Any], sender_id: str | None = None) -> dict[str, Any]:
        result = self.send_batch(q, [entry], sender_id)[0]
        if isinstance(result, QueueError):
            raise result
        return result

    def send_batch(self, q: Queue, entries: list[dict[str, Any]],
                   sender_id: str | None = None) -> list[dict[str, Any] | QueueError]:
        """Validate and enqueue each entry (API-shaped: MessageBody, DelaySeconds, MessageAttributes,
        MessageSystemAttributes, MessageGroupId, MessageDeduplicationId) in ONE transaction.

        Returns, per entry, the SendMessage result dict or the QueueError that rejected it.
        """
        now = now_ms()
        rows: list[tuple[Any, ...]] = []
        dedup_rows: list[tuple[Any, ...]] = []
        batch_dedup: dict[str, dict[str, Any]] = {}
        results: list[dict[str, Any] | QueueError] = []
        for entry in entries:
            try:
                row, result, dedup_key = self._prepare(q, entry, now, batch_dedup)
            except QueueError as err:
                results.append(err)
                continue
            if row is not None:
                rows.append(row)
                if dedup_key is not None:
                    batch_dedup[dedup_key] = result
                    dedup_rows.append((q.name, dedup_key, result["MessageId"], result["SequenceNumber"],
                                       now + DEDUP_WINDOW_MS))
            results.append(result)
        if rows:
            with self.store.transaction() as db:
                db.executemany(_INSERT, rows)
                if dedup_rows:
                    db.executemany("INSERT OR REPLACE INTO fifo_dedup (queue, dedup_id, message_id, sequence,"
                                   " expires_ms) VALUES (?, ?, ?, ?, ?)", dedup_rows)
            q.notify()
        return results

    def _prepare(self, q: Queue, entry: dict[str, Any], now: int,
                 batch_dedup: dict[str, dict[str, Any]]) -> tuple[tuple[Any, ...] | None, dict[str, Any], str | None]:
        body = qa.check_body(entry.get("MessageBody"))
        attrs, attr_size = qa.check_message_attributes(entry.get("MessageAttributes"))
        system, _ = qa.check_message_attributes(entry.get("MessageSystemAttributes"), system=True)
        size = len(body.encode("utf-8")) + attr_size
        if size > q.max_size:
            raise QueueError("InvalidParameterValue",
                             f"One or more parameters are invalid. Reason: Message must be shorter than "
                             f"{q.max_size} bytes.")
        delay = qa.check_delay(entry.get("DelaySeconds"))
        group_id = entry.get("MessageGroupId")
        dedup_id = entry.get("MessageDeduplicationId")
        dedup_key = None
        if q.fifo:
            if delay is not None and delay != 0:
                raise QueueError("InvalidParameterValue",
                                 f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request include "
                                 "parameter that is not valid for this queue type.")
            if group_id is None:
                raise QueueError("MissingParameter", "The request must contain the parameter MessageGroupId.")
            qa.check_dedup_id(group_id, "MessageGroupId")
            if dedup_id is None:
                if not q.content_dedup:
                    raise QueueError("InvalidParameterValue",
                                     "The queue should either have ContentBasedDeduplication enabled or "
                                     "MessageDeduplicationId provided explicitly")
                dedup_id = hashlib.sha256(body.encode("utf-8")).hexdigest()
            else:
                qa.check_dedup_id(dedup_id, "MessageDeduplicationId")
            dedup_key = f"{group_id}\x1f{dedup_id}" if q.group_dedup else dedup_id
        else:
            if dedup_id is not None:
                raise QueueError("InvalidParameterValue",
                                 "The request include parameter MessageDeduplicationId which is not valid for this "
                                 "queue type")
            if group_id is not None:
                qa.check_dedup_id(group_id, "MessageGroupId")  # fair queues: allowed, no ordering
                group_id = None
        md5 = md5_body(body)
        md5_attrs = md5_attributes(attrs)
        result: dict[str, Any] = {"MessageId": "", "MD5OfMessageBody": md5}
        if md5_attrs:
            result["MD5OfMessageAttributes"] = md5_attrs
        if system:
            result["MD5OfMessageSystemAttributes"] = md5_attributes(system)
        if dedup_key is not None:
            previous = batch_dedup.get(dedup_key)
            if previous is None:
                hit = self.store.query_one(
                    "SELECT message_id, sequence FROM fifo_dedup WHERE queue = ? AND dedup_id = ? AND expires_ms > ?",
                    (q.name, dedup_key, now))
                if hit:
                    previous = {"MessageId": hit["message_id"], "SequenceNumber": hit["sequence"]}
            if previous is not None:
                # A duplicate within 5 minutes: success response, nothing enqueued.
                return None, {**result, "MessageId": previous["MessageId"],
                              "SequenceNumber": previous["SequenceNumber"]}, None
        seq = self._next_seq
        self._next_seq += 1
        message_id = str(uuid.uuid4())
        result["MessageId"] = message_id
        if q.fifo:
            result["SequenceNumber"] = sequence_number(seq)
        delay_s = q.delay_s if delay is None else delay
        row = (seq, q.name, message_id, body,
               json.dumps(qa.api_attributes(attrs)) if attrs else None,
               json.dumps({"AWSTraceHeader": system["AWSTraceHeader"]["StringValue"]}) if system else None,
               md5, md5_attrs, now, now + delay_s * 1000, 0, group_id, dedup_id if q.fifo else None, None)
        return row, result, dedup_key

    # --- receive ---------------------------------------------------------------------------
    async def receive(self, q: Queue, max_messages: int = 1, visibility_timeout: int | None = None,
                      wait_seconds: float | None = None, *, single_group: bool = False,
                      sender_id: str | None = None) -> list[Received]:
        """Receive up to `max_messages`, long-polling up to `wait_seconds` (queue default when None)."""
        wait = q.wait_s if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + wait
        while True:
            current = self.queues.get(q.name)
            if current is None:
                raise no_queue()
            q = current
            wake = q.wake
            got = self.receive_now(q, max_messages, visibility_timeout, single_group=single_group)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0 or self._stopping():
                return got
            # Wait in slices so a stopping engine never waits out a 20 s long poll.
            timeout = min(remaining, 0.5)
            upcoming = self._next_visible_ms(q)
            if upcoming is not None:
                timeout = min(timeout, max(0.001, (upcoming - now_ms()) / 1000))
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _next_visible_ms(self, q: Queue) -> int | None:
        row = self.store.query_one("SELECT MIN(visible_ms) FROM messages WHERE queue = ? AND visible_ms > ?",
                                   (q.name, now_ms()))
        return row[0] if row and row[0] is not None else None

    def receive_now(self, q: Queue, max_messages: int = 1, visibility_timeout: int | None = None,
                    *, single_group: bool = False) -> list[Received]:
        now = now_ms()
        vt = q.visibility_timeout if visibility_timeout is None else visibility_timeout
        oldest = now - q.retention_s * 1000
        out: list[Received] = []
        updates: list[tuple[Any, ...]] = []
        with self.store.transaction() as db:
            for _ in range(20):  # bounded: each round only repeats when messages moved to a DLQ
                need = max_messages - len(out)
                if need <= 0:
                    break
                rows = self._candidates(db, q, now, need, single_group and not out, exclude=[r.seq for r in out])
                if not rows:
                    break
                moved = False
                for row in rows:
                    if row["sent_ms"] < oldest:
                        db.execute("DELETE FROM messages WHERE seq = ?", (row["seq"],))
                        moved = True
                        continue
                    if q.redrive and row["receive_count"] >= q.redrive[1] and self._redrive(db, q, row):
                        moved = True
                        continue
                    receipt = make_receipt(q.name, row["message_id"])
                    first = row["first_receive_ms"] or now
                    updates.append((receipt, now + vt * 1000, now, row["seq"]))
                    out.append(Received(
                        row["seq"], row["message_id"], receipt, row["body"], row["message_attributes_json"],
                        row["system_attributes_json"], row["md5_body"], row["md5_attributes"], row["sent_ms"], first,
                        row["receive_count"] + 1, row["group_id"], row["dedup_id"], row["source_arn"], q.fifo,
                        self.account))
                    if single_group and q.fifo and len(out) >= max_messages:
                        break
                if single_group and q.fifo and out:
                    break
                if not moved:
                    break
            if updates:
                db.executemany(_MARK_RECEIVED, updates)
        return out

    def _candidates(self, db: Any, q: Queue, now: int, limit: int, one_group: bool, exclude: list[int]) -> list[Any]:
        skip = f" AND seq NOT IN ({','.join(str(int(s)) for s in exclude)})" if exclude else ""
        if not q.fifo:
            return db.execute(f"SELECT {_COLUMNS} FROM messages WHERE queue = ? AND visible_ms <= ?{skip}"
                              " ORDER BY visible_ms, seq LIMIT ?", (q.name, now, limit)).fetchall()
        locked = ("SELECT group_id FROM messages WHERE queue = ? AND in_flight = 1 AND visible_ms > ?")
        if one_group:
            first = db.execute(f"SELECT group_id FROM messages WHERE queue = ? AND visible_ms <= ?{skip}"
                               f" AND group_id NOT IN ({locked}) ORDER BY seq LIMIT 1",
                               (q.name, now, q.name, now)).fetchone()
            if first is None:
                return []
            return db.execute(f"SELECT {_COLUMNS} FROM messages WHERE queue = ? AND group_id = ? AND visible_ms <= ?"
                              f"{skip} ORDER BY seq LIMIT ?", (q.name, first[0], now, limit)).fetchall()
        return db.execute(f"SELECT {_COLUMNS} FROM messages WHERE queue = ? AND visible_ms <= ?{skip}"
                          f" AND group_id NOT IN ({locked}) ORDER BY seq LIMIT ?",
                          (q.name, now, q.name, now, limit)).fetchall()

    def _redrive(self, db: Any, q: Queue, row: Any) -> bool:
        """Move a message past maxReceiveCount to the DLQ: same MessageId and enqueue time."""
        assert q.redrive is not None
        dlq = self._by_arn.get(q.redrive[0])
        if dlq is None:
            return False  # target gone: keep delivering from the source, as AWS does
        seq = self._next_seq
        self._next_seq += 1
        db.execute(
            "INSERT INTO messages (seq, queue, message_id, body, message_attributes_json, system_attributes_json,"
            " md5_body, md5_attributes, sent_ms, visible_ms, receive_count, first_receive_ms, receipt, in_flight,"
            " group_id, dedup_id, source_arn) SELECT ?, ?, message_id, body, message_attributes_json,"
            " system_attributes_json, md5_body, md5_attributes, sent_ms, ?, 0, NULL, NULL, 0, group_id, dedup_id, ?"
            " FROM messages WHERE seq = ?",
            (seq, dlq.name, now_ms(), q.arn, row["seq"]))
        db.execute("DELETE FROM messages WHERE seq = ?", (row["seq"],))
        asyncio.get_running_loop().call_soon(dlq.notify)
        return True

    # --- delete / visibility ---------------------------------------------------------------
    def delete(self, q: Queue, handle: Any) -> None:
        self.delete_batch(q, [handle], raise_errors=True)

    def delete_batch(self, q: Queue, handles: list[Any], raise_errors: bool = False) -> list[QueueError | None]:
        results: list[QueueError | None] = []
        deleted = False
        with self.store.transaction() as db:
            for handle in handles:
                try:
                    deleted |= self._delete_one(db, q, handle)
                    results.append(None)
                except QueueError as err:
                    if raise_errors:
                        raise
                    results.append(err)
        if deleted and q.fifo:
            q.notify()  # the group may be unlocked now
        return results

    def _delete_one(self, db: Any, q: Queue, handle: Any) -> bool:
        queue_name, message_id = parse_receipt(handle)
        if queue_name != q.name:
            raise QueueError("ReceiptHandleIsInvalid",
                             f'The input receipt handle "{handle}" is not a valid receipt handle.')
        cur = db.execute("DELETE FROM messages WHERE receipt = ?", (handle,))
        if cur.rowcount:
            return True
        if q.fifo:
            row = db.execute("SELECT 1 FROM messages WHERE queue = ? AND message_id = ?", (q.name, message_id)).fetchone()
            if row:
                raise QueueError("InvalidParameterValue",
                                 f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle "
                                 "has expired.")
            return False
        # Standard queue: a stale but well-formed handle still deletes, without error.
        return db.execute("DELETE FROM messages WHERE queue = ? AND message_id = ?", (q.name, message_id)).rowcount > 0

    def change_visibility(self, q: Queue, handle: Any, timeout: Any) -> None:
        self.change_visibility_batch(q, [(handle, timeout)], raise_errors=True)

    def change_visibility_batch(self, q: Queue, items: list[tuple[Any, Any]],
                                raise_errors: bool = False) -> list[QueueError | None]:
        results: list[QueueError | None] = []
        now = now_ms()
        with self.store.transaction() as db:
            for handle, timeout in items:
                try:
                    vt = qa.check_visibility(timeout, required=True)
                    self._change_one(db, q, handle, int(vt or 0), now)
                    results.append(None)
                except QueueError as err:
                    if raise_errors:
                        raise
                    results.append(err)
        q.notify()
        return results

    def _change_one(self, db: Any, q: Queue, handle: Any, vt: int, now: int) -> None:
        queue_name, message_id = parse_receipt(handle)
        if queue_name != q.name:
            raise QueueError("ReceiptHandleIsInvalid",
                             f'The input receipt handle "{handle}" is not a valid receipt handle.')
        row = db.execute("SELECT seq, in_flight, visible_ms, receipt FROM messages WHERE receipt = ?",
                         (handle,)).fetchone()
        if row is None:
            row = db.execute("SELECT seq, in_flight, visible_ms, receipt FROM messages WHERE queue = ? AND"
                             " message_id = ?", (q.name, message_id)).fetchone()
            if row is None or q.fifo and row["in_flight"] and row["visible_ms"] > now:
                raise QueueError("InvalidParameterValue",
                                 f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not "
                                 "exist or is not available for visibility timeout change.")
        if not (row["in_flight"] and row["visible_ms"] > now):
            raise QueueError("MessageNotInflight", "The message referred to isn't in flight.")
        db.execute("UPDATE messages SET visible_ms = ? WHERE seq = ?", (now + vt * 1000, row["seq"]))

    # --- control surface (CLI) -------------------------------------------------------------
    def find(self, queue: str, stack: str | None = None) -> Queue:
        """A queue by logical id (within `stack`, or any stack when unique), name or URL."""
        if not queue:
            raise UsageError("a queue name, logical id or URL is required")
        if "/" in queue:
            try:
                return self.get(queue)
            except QueueError:
                raise NotFoundError(f"no queue at {queue}", hint="List queues with `samlite list queues`.") from None
        by_logical = [q for q in self.queues.values() if q.logical_id == queue and (stack is None or q.stack == stack)]
        if len(by_logical) == 1:
            return by_logical[0]
        if len(by_logical) > 1:
            stacks = ", ".join(sorted(str(q.stack) for q in by_logical))
            raise UsageError(f"queue {queue!r} exists in several stacks ({stacks})", hint="Pass --stack-name.")
        q = self.queues.get(queue)
        if q is not None and (stack is None or q.stack == stack):
            return q
        where = f" in stack {stack!r}" if stack else ""
        raise NotFoundError(f"no queue {queue!r}{where}", hint="List queues with `samlite list queues`.")

    def cli_send_message(self, queue: str, body: str, stack: str | None = None,
                         attributes: dict[str, Any] | None = None, delay_seconds: int | None = None,
                         group_id: str | None = None, dedup_id: str | None = None) -> dict[str, Any]:
        q = self.find(queue, stack)
        message_attributes = {}
        for key, value in (attributes or {}).items():
            if isinstance(value, dict):
                message_attributes[key] = value
                continue
            data_type, text = "String", str(value)
            for prefix in ("String", "Number", "Binary"):
                if text.startswith(prefix + ":") or text.startswith(prefix + "."):
                    head, _, rest = text.partition(":")
                    if rest or head == prefix:
                        data_type, text = head, rest
                    break
            if data_type.startswith("Binary"):
                message_attributes[key] = {"DataType": data_type, "BinaryValue": text}
            else:
                message_attributes[key] = {"DataType": data_type, "StringValue": text}
        entry: dict[str, Any] = {"MessageBody": body}
        if message_attributes:
            entry["MessageAttributes"] = message_attributes
        if delay_seconds is not None:
            entry["DelaySeconds"] = delay_seconds
        if group_id is not None:
            entry["MessageGroupId"] = group_id
        if dedup_id is not None:
            entry["MessageDeduplicationId"] = dedup_id
        try:
            result = self.send(q, entry)
        except QueueError as err:
            raise UsageError(f"{q.name}: {err.code}: {err.message}") from None
        return {**result, "QueueUrl": q.url, "QueueName": q.name}

    def cli_list_queues(self, stack: str | None = None) -> list[dict[str, Any]]:
        out = []
        for q in self.list_queues():
            if stack is not None and q.stack != stack:
                continue
            visible, in_flight, delayed = self.counts(q)
            out.append({"name": q.name, "url": q.url, "arn": q.arn, "stack": q.stack, "logical_id": q.logical_id,
                        "fifo": q.fifo, "visible": visible, "in_flight": in_flight, "delayed": delayed})
        return out
