"""Services built from their constructors alone: a store in tmp_path and small fakes, no engine.

The layout promises that each service takes only what it uses; these tests hold it to that.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from samlite.config import Settings
from samlite.core.aws_api import AwsError, Reply
from samlite.core.endpoint import ApiService, AwsApp, Route
from samlite.core.http import Request
from samlite.core.invoke import FunctionNotFound
from samlite.core.store import Store
from samlite.engine.deploy import plan
from samlite.services.lambda_.esm import EsmManager
from samlite.services.sqs.attributes import QueueError
from samlite.services.sqs.service import QueueService
from samlite.template.model import Resource, Stack

AWS_URL = "http://127.0.0.1:1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "state.db")
    yield store
    store.close()


# --- QueueService ---------------------------------------------------------------------------

def test_queue_service_sends_receives_and_deletes(settings: Settings, store: Store) -> None:
    queues = QueueService(settings, store, AWS_URL)
    q = queues.create_queue("orders")
    assert queues.url_for("orders") == f"{AWS_URL}/123456789012/orders"
    sent = queues.send(q, {"MessageBody": "hello"})
    assert queues.counts(q) == (1, 0, 0)
    [got] = queues.receive_now(q, 10)
    assert (got.message_id, got.body) == (sent["MessageId"], "hello")
    assert queues.counts(q) == (0, 1, 0)  # in flight until deleted
    queues.delete(q, got.receipt)
    assert queues.counts(q) == (0, 0, 0)


def test_queue_service_state_is_the_store(settings: Settings, store: Store) -> None:
    """A second service over the same store sees the queue and its message (what a restart does)."""
    first = QueueService(settings, store, AWS_URL)
    first.send(first.create_queue("durable"), {"MessageBody": "kept"})
    second = QueueService(settings, store, AWS_URL)
    second.reload()
    q = second.get("durable")
    assert [m.body for m in second.receive_now(q, 10)] == ["kept"]


def test_queue_service_rejects_bad_input(settings: Settings, store: Store) -> None:
    queues = QueueService(settings, store, AWS_URL)
    with pytest.raises(QueueError):
        queues.create_queue("bad name!")
    q = queues.create_queue("q")
    with pytest.raises(QueueError):
        queues.send(q, {"MessageBody": ""})
    with pytest.raises(QueueError):
        queues.delete(q, "not-a-receipt")
    assert queues.counts(q) == (0, 0, 0)


# --- the mapping poller --------------------------------------------------------------------

class FakeInvoker:
    """The two calls a poller makes: resolve a function, run it with a batch."""

    def __init__(self, fail_body: str | None = None) -> None:
        self.functions: dict[str, Any] = {"fn": SimpleNamespace(name="fn", reserved_concurrency=None)}
        self.batches: list[list[str]] = []
        self.fail_body = fail_body

    def resolve(self, name: str) -> Any:
        if name not in self.functions:
            raise FunctionNotFound(f"Function not found: {name}")
        return self.functions[name]

    async def run(self, spec: Any, payload: bytes, request_id: str, source: str) -> Any:
        records = json.loads(payload)["Records"]
        self.batches.append([r["body"] for r in records])
        failed = [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == self.fail_body]
        return SimpleNamespace(function_error=None, status_code=200,
                               payload=json.dumps({"batchItemFailures": failed}).encode())


def _add_mapping(store: Store, arn: str, config: dict[str, Any]) -> None:
    with store.transaction() as db:
        db.execute("INSERT INTO mappings (uuid, stack, logical_id, function_name, event_source_arn, config_json,"
                   " enabled, state, updated_at) VALUES (?, NULL, NULL, 'fn', ?, ?, 1, 'Enabled', ?)",
                   ("m-1", arn, json.dumps(config), time.time()))


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.01)


def test_poller_deletes_processed_messages_and_keeps_reported_failures(settings: Settings, store: Store) -> None:
    async def scenario() -> None:
        queues = QueueService(settings, store, AWS_URL)
        q = queues.create_queue("work", {"VisibilityTimeout": "30"})
        invoker = FakeInvoker(fail_body="bad")
        esm = EsmManager(settings, store, invoker, queues)  # type: ignore[arg-type]
        _add_mapping(store, q.arn, {"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]})
        for body in ("a", "bad", "c"):
            queues.send(q, {"MessageBody": body})
        await esm.start()
        try:
            await _until(lambda: sum(len(b) for b in invoker.batches) >= 3 and queues.counts(q)[0] == 0
                         and queues.counts(q)[1] == 1)
        finally:
            await esm.stop()
        assert sorted(b for batch in invoker.batches for b in batch) == ["a", "bad", "c"]
        assert queues.counts(q) == (0, 1, 0)  # only the reported failure stays, in flight

    asyncio.run(scenario())


def test_poller_filters_drop_messages_without_invoking(settings: Settings, store: Store) -> None:
    async def scenario() -> None:
        queues = QueueService(settings, store, AWS_URL)
        q = queues.create_queue("filtered")
        invoker = FakeInvoker()
        esm = EsmManager(settings, store, invoker, queues)  # type: ignore[arg-type]
        _add_mapping(store, q.arn, {"FilterCriteria": {"Filters": [{"Pattern": '{"body": {"kind": ["keep"]}}'}]}})
        queues.send(q, {"MessageBody": json.dumps({"kind": "keep"})})
        queues.send(q, {"MessageBody": json.dumps({"kind": "drop"})})
        await esm.start()
        try:
            await _until(lambda: queues.counts(q) == (0, 0, 0))
        finally:
            await esm.stop()
        assert [json.loads(b)["kind"] for batch in invoker.batches for b in batch] == ["keep"]

    asyncio.run(scenario())


# --- the deploy planner ----------------------------------------------------------------------

def _stack(**resources: Resource) -> Stack:
    return Stack(name="s", region="us-east-1", account_id="123456789012", template_path="t.yaml",
                 project_dir=".", resources=resources)


def _old(res: Resource) -> dict[str, Any]:
    return {"type": res.type, "properties_hash": res.properties_hash, "emulated": int(res.emulated)}


def test_planner_adds_modifies_replaces_and_removes() -> None:
    queue = Resource("Q", "AWS::SQS::Queue", {"QueueName": "a"}, "a")
    fn = Resource("F", "AWS::Serverless::Function", {"MemorySize": 128}, "f")
    gone = Resource("G", "AWS::SQS::Queue", {}, "g")
    old_resources = {"Q": _old(queue), "F": _old(fn), "G": _old(gone)}
    old_props = {"Q": dict(queue.properties), "F": dict(fn.properties), "G": {}}
    new = _stack(Q=Resource("Q", "AWS::SQS::Queue", {"QueueName": "b"}, "b"),
                 F=Resource("F", "AWS::Serverless::Function", {"MemorySize": 256}, "f"),
                 N=Resource("N", "AWS::SNS::Topic", {}, "n", emulated=False))
    changes = {c.logical_id: (c.action, c.replacement, c.emulated) for c in plan(new, old_resources, old_props)}
    assert changes == {"F": ("Modify", False, True), "Q": ("Modify", True, True), "N": ("Add", False, False),
                       "G": ("Remove", False, True)}


def test_planner_sees_no_change_in_an_identical_stack() -> None:
    queue = Resource("Q", "AWS::SQS::Queue", {"QueueName": "a"}, "a")
    assert plan(_stack(Q=queue), {"Q": _old(queue)}, {"Q": dict(queue.properties)}) == []


# --- the endpoint router ----------------------------------------------------------------------

def _request(headers: dict[str, str] | None = None, path: str = "/", body: bytes = b"", query: bytes = b"") -> Request:
    return Request(method="POST", path=path, raw_path=path.encode(), query_string=query,
                   headers=list((headers or {}).items()), body=body, client=None)


def _signed(service: str) -> dict[str, str]:
    return {"authorization": f"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{service}/aws4_request, "
                             "SignedHeaders=host, Signature=00"}


async def _nothing(request: Request, action: str) -> Reply:
    return Reply()


def _router() -> AwsApp:
    # Routing alone: the caller guard (signatures, browsers) has tests of its own.
    return AwsApp(Settings(home=Path("/nonexistent"), require_signed=False), [
        ApiService("sqs", _nothing, targets=("AmazonSQS",), handle_query=_nothing, query_default=True),
        ApiService("lambda", _nothing, paths=("/2015-03-31/",)),
        ApiService("logs", _nothing, targets=("Logs_20140328",)),
    ])


def _route(request: Request) -> tuple[str | None, str, str, bool]:
    route: Route = _router().route(request)
    return (route.service.signing_name if route.service else None, route.protocol, route.action, route.foreign)


def test_router_uses_target_then_path_then_credential_scope() -> None:
    assert _route(_request({"x-amz-target": "Logs_20140328.GetLogEvents"})) == ("logs", "json", "GetLogEvents", False)
    assert _route(_request(path="/2015-03-31/functions/f/invocations")) == ("lambda", "rest", "", False)
    assert _route(_request(_signed("sqs"), body=b"Action=SendMessage")) == ("sqs", "query", "SendMessage", False)
    # Unsigned query requests are SQS's, as they always were.
    assert _route(_request(body=b"Action=ListQueues")) == ("sqs", "query", "ListQueues", False)


def test_router_never_sends_another_services_query_call_to_sqs() -> None:
    assert _route(_request(_signed("sns"), body=b"Action=Publish")) == (None, "rest", "", True)
    assert _route(_request({"x-amz-target": "DynamoDB_20120810.PutItem"})) == (None, "json", "PutItem", True)
    presigned = b"X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00"
    assert _route(_request(path="/bucket/key", query=presigned)) == (None, "rest", "", True)


def test_router_answers_unknown_services_with_their_protocols_error() -> None:
    async def call(request: Request) -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []
        body = request.body

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": request.method, "path": request.path, "raw_path": request.raw_path,
                 "query_string": request.query_string, "client": None, "scheme": "http", "http_version": "1.1",
                 "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers]}
        await _router()(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    status, body = asyncio.run(call(_request({"x-amz-target": "DynamoDB_20120810.PutItem"})))
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    status, body = asyncio.run(call(_request(_signed("sns"), body=b"Action=Publish")))
    assert status == 404 and json.loads(body)["message"].startswith("samlite does not serve")
    status, body = asyncio.run(call(_request(body=b"Version=1")))
    assert status == 400 and b"<Code>MissingAction</Code>" in body


def test_aws_error_keeps_its_fields() -> None:
    err = AwsError("Code", "message", 418, query_code="Legacy")
    assert (err.code, err.status, err.query_code) == ("Code", 418, "Legacy")
