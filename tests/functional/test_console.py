"""The web console's HTTP side against a real engine: the token, the same-origin rule, the JSON
endpoints (stacks, functions, queues, async events, data, durable executions), bad input, and the
live stream."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from durable_console_stack import deploy as deploy_durable

from samlite.testing import EngineHandle, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PREFIX = "/_samlite/console"


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    project = tmp_path_factory.mktemp("console") / "sqs-lambda"
    shutil.copytree(EXAMPLES / "sqs-lambda", project, ignore=shutil.ignore_patterns(".samlite", "__pycache__"))
    samlite_module_engine.deploy(project / "template.yaml", "app")
    return samlite_module_engine


@pytest.fixture(scope="module")
def token(engine: EngineHandle) -> str:
    return json.loads((engine.home / "engine.json").read_text())["console_token"]


@pytest.fixture
def session(engine: EngineHandle, token: str) -> Iterator[requests.Session]:
    """A browser-like session: it visited the console once with ?token= and keeps the cookie."""
    with requests.Session() as s:
        first = s.get(f"{engine.gateway_url}{PREFIX}/?token={token}", allow_redirects=False, timeout=10)
        assert first.status_code == 303 and first.headers["location"] == f"{PREFIX}/"
        yield s


def url(engine: EngineHandle, path: str) -> str:
    return f"{engine.gateway_url}{PREFIX}{path}"


def same_origin(engine: EngineHandle) -> dict[str, str]:
    return {"Origin": engine.gateway_url}


def names(engine: EngineHandle, session: requests.Session) -> dict[str, Any]:
    data = session.get(url(engine, "/api/overview"), timeout=10).json()
    queues = {q["logical_id"]: q["name"] for q in data["queues"]}
    functions = {f["logical_id"]: f["name"] for f in data["functions"]}
    return {"function": functions["ProcessorFunction"], "queue": queues["MessagesQueue"],
            "dlq": queues["DeadLetterQueue"]}


# --- where it is and who may use it -------------------------------------------------------------
def test_console_url_is_in_engine_json_status_and_the_console_command(engine: EngineHandle, token: str) -> None:
    path = engine.home / "engine.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    expected = f"{engine.gateway_url}{PREFIX}/?token={token}"
    status = json.loads(engine.cli("engine", "status", "--output", "json", check=True).stdout)
    assert status["console_url"] == expected
    printed = engine.cli("console", check=True)  # stdout is a pipe: print only, no browser
    assert printed.stdout.strip() == expected
    assert json.loads(engine.cli("console", "--output", "json", check=True).stdout) == {"url": expected}
    assert token not in (engine.home / "engine.log").read_text()


def test_requests_without_the_token_are_refused(engine: EngineHandle, token: str) -> None:
    for path in ("/", "/api/overview", "/api/stacks", "/static/console.js", "/api/live"):
        assert requests.get(url(engine, path), timeout=10).status_code == 403, path
    assert requests.get(url(engine, "/?token=wrong"), timeout=10, allow_redirects=False).status_code == 403
    port = engine.gateway_url.rsplit(":", 1)[1]
    bad_cookie = {"Cookie": f"samlite_console_{port}=wrong"}
    assert requests.get(url(engine, "/api/overview"), headers=bad_cookie, timeout=10).status_code == 403
    # Another engine's cookie (another port) is not this one's.
    other = {"Cookie": f"samlite_console_1={token}"}
    assert requests.get(url(engine, "/api/overview"), headers=other, timeout=10).status_code == 403


def test_the_token_visit_sets_a_strict_http_only_cookie(engine: EngineHandle, token: str) -> None:
    resp = requests.get(url(engine, f"/?token={token}"), allow_redirects=False, timeout=10)
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Path={PREFIX}/" in cookie
    with requests.Session() as s:
        page = s.get(url(engine, f"/?token={token}"), timeout=10)  # follows the redirect with the cookie
        assert page.status_code == 200 and "samlite console" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert s.get(url(engine, "/static/console.js"), timeout=10).status_code == 200


def test_state_changes_need_the_same_origin(engine: EngineHandle, session: requests.Session, token: str) -> None:
    dlq = names(engine, session)["dlq"]
    send = url(engine, f"/api/queues/{dlq}/send")
    body = json.dumps({"body": "cross"})
    assert session.post(send, data=body, headers={"Origin": "http://evil.example"}, timeout=10).status_code == 403
    assert session.post(send, data=body, headers={"Origin": "null"}, timeout=10).status_code == 403
    assert session.post(send, data=body, timeout=10).status_code == 403  # cookie only, no Origin
    assert requests.post(send, data=body, headers=same_origin(engine), timeout=10).status_code == 403  # no token
    assert session.get(url(engine, f"/api/queues/{dlq}"), timeout=10).json()["visible"] == 0
    ok = session.post(send, data=body, headers=same_origin(engine), timeout=10)
    assert ok.status_code == 200 and ok.json()["MessageId"]
    # A script without a browser proves itself with the token header instead.
    scripted = requests.post(send, data=body, headers={"X-Samlite-Token": token}, timeout=10)
    assert scripted.status_code == 200
    assert session.get(url(engine, f"/api/queues/{dlq}"), timeout=10).json()["visible"] == 2


# --- what it shows -------------------------------------------------------------------------------
def test_overview_and_stacks(engine: EngineHandle, session: requests.Session) -> None:
    overview = session.get(url(engine, "/api/overview"), timeout=10).json()
    assert [s["stack"] for s in overview["stacks"]] == ["app"]
    stacks = session.get(url(engine, "/api/stacks"), timeout=10).json()
    (app,) = stacks
    types = {r["logical_id"]: (r["type"], r["emulated"]) for r in app["resources"]}
    assert types["ProcessorFunction"] == ("AWS::Serverless::Function", True)
    assert {o["key"] for o in app["outputs"]} == {"QueueUrl", "DeadLetterQueueUrl", "FunctionName"}
    changes = {c["logical_id"]: c["action"] for c in app["last_change_set"]["changes"]}
    assert changes["ProcessorFunction"] == "Add"


def test_function_page_data_and_invoke(engine: EngineHandle, session: requests.Session) -> None:
    fn = names(engine, session)["function"]
    data = session.get(url(engine, f"/api/functions/{fn}"), timeout=10).json()
    assert data["configuration"]["Handler"] == "app.lambda_handler"
    assert data["mappings"][0]["State"] == "Enabled"
    assert set(data["charts"]) >= {"invocations", "errors", "throttles", "p50", "p99", "concurrency", "cost_usd"}
    invoke = url(engine, f"/api/functions/{fn}/invoke")
    event = json.dumps({"Records": [{"messageId": "m1", "body": "from the console"}]})
    result = session.post(invoke, data=event, headers=same_origin(engine), timeout=30).json()
    assert result["status_code"] == 200 and json.loads(result["payload"]) == {"batchItemFailures": []}
    assert "processed message m1: from the console" in result["log_tail"]
    recent = wait_for(lambda: [i for i in session.get(url(engine, f"/api/functions/{fn}"), timeout=10)
                               .json()["invocations"] if i["request_id"] == result["request_id"]])
    assert recent[0]["source"] == "console" and recent[0]["status"] == "ok"
    samples = session.get(url(engine, "/api/samples"), timeout=10).json()
    assert "sqs receive-message" in samples and "Records" in samples["sqs receive-message"]


def test_invoke_rejects_bad_payloads_and_names(engine: EngineHandle, session: requests.Session) -> None:
    fn = names(engine, session)["function"]
    invoke = url(engine, f"/api/functions/{fn}/invoke")
    bad = session.post(invoke, data="{not json", headers=same_origin(engine), timeout=10)
    assert bad.status_code == 400 and "InvalidRequestContent" in bad.json()["error"]
    huge = session.post(invoke, data=b"x" * (7 * 1024 * 1024), headers=same_origin(engine), timeout=30)
    assert huge.status_code == 413
    missing = session.post(url(engine, "/api/functions/nope/invoke"), data="{}", headers=same_origin(engine),
                           timeout=10)
    assert missing.status_code == 404 and "not deployed" in missing.json()["error"]
    assert session.get(url(engine, "/api/functions/bad%20name"), timeout=10).status_code == 400
    assert session.get(url(engine, "/api/functions/nope/logs?after=x"), timeout=10).status_code in (400, 404)
    assert session.get(url(engine, "/api/nothing"), timeout=10).status_code == 404
    assert session.get(invoke, timeout=10).status_code == 405


def test_queue_peek_send_purge_and_bad_input(engine: EngineHandle, session: requests.Session) -> None:
    dlq = names(engine, session)["dlq"]
    base = url(engine, f"/api/queues/{dlq}")
    hdrs = same_origin(engine)
    assert session.post(base + "/purge", headers=hdrs, timeout=10).status_code == 200  # what earlier tests left
    for bad, code in (("{}", 400), ("[1]", 400), ("not json", 400), (json.dumps({"body": 5}), 400),
                      (json.dumps({"body": ""}), 400)):
        resp = session.post(base + "/send", data=bad, headers=hdrs, timeout=10)
        assert resp.status_code == code, (bad[:20], resp.text)
        assert resp.json()["error"]
    assert session.get(url(engine, "/api/queues/no-such-queue"), timeout=10).status_code == 404
    bad_name = session.get(url(engine, "/api/queues/bad$name"), timeout=10)
    assert bad_name.status_code == 400 and "bad queue name" in bad_name.json()["error"]
    assert session.post(base + "/send", data=b"x" * (2 * 1024 * 1024), headers=hdrs, timeout=10).status_code == 413

    sent = session.post(base + "/send", data=json.dumps({"body": "<b>peek me</b>"}), headers=hdrs, timeout=10).json()
    for _ in range(2):  # peeking twice changes nothing
        (msg,) = session.get(base + "/messages", timeout=10).json()
        assert msg["message_id"] == sent["MessageId"] and msg["state"] == "visible" and msg["receive_count"] == 0
        assert msg["body"] == "<b>peek me</b>"
    queue = session.get(base, timeout=10).json()
    assert (queue["visible"], queue["in_flight"], queue["delayed"]) == (1, 0, 0)
    assert queue["dead_letter_sources"] == [names(engine, session)["queue"]]
    again = session.post(base + "/purge", headers=hdrs, timeout=10)  # SQS allows one purge a minute
    assert again.status_code == 400 and "PurgeQueueInProgress" in again.json()["error"]
    sqs = engine.client("sqs")
    sqs.delete_message(QueueUrl=queue["url"], ReceiptHandle=sqs.receive_message(QueueUrl=queue["url"])[
        "Messages"][0]["ReceiptHandle"])
    assert session.get(base + "/messages", timeout=10).json() == []


def test_redrive_moves_dead_letters_back_and_the_function_runs(engine: EngineHandle, session: requests.Session) -> None:
    ids = names(engine, session)
    hdrs = same_origin(engine)
    # Straight into the DLQ with the AWS API (the console's own send has a purge cool-down test above).
    sqs = engine.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName=ids["dlq"])["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody="redriven <script>x</script>")
    source = url(engine, f"/api/queues/{ids['queue']}")
    refused = session.post(source + "/redrive", data="{}", headers=hdrs, timeout=10)
    assert refused.status_code == 400 and "not the dead-letter queue" in refused.json()["error"]
    moved = session.post(url(engine, f"/api/queues/{ids['dlq']}/redrive"), data="{}", headers=hdrs, timeout=10)
    assert moved.json() == {"moved": 1, "from": ids["dlq"], "to": ids["queue"]}

    def logged() -> bool:
        lines = session.get(url(engine, f"/api/functions/{ids['function']}/logs"), timeout=10).json()
        return any("redriven <script>x</script>" in line["message"] for line in lines)

    wait_for(logged, timeout=15, message="the redriven message in the function's log")
    logs = session.get(url(engine, f"/api/functions/{ids['function']}/logs"), timeout=10)
    # Function output leaves as JSON text that the page writes with textContent; never as HTML.
    assert logs.headers["content-type"] == "application/json" and logs.headers["x-content-type-options"] == "nosniff"


def test_live_stream_carries_new_logs_and_invocations(engine: EngineHandle, session: requests.Session) -> None:
    ids = names(engine, session)
    stream = session.get(url(engine, f"/api/live?function={ids['function']}"), stream=True, timeout=15)
    assert stream.status_code == 200 and stream.headers["content-type"] == "text/event-stream"
    lines = stream.iter_lines(decode_unicode=True)
    assert next(lines) == ": open"
    engine.client("sqs").send_message(QueueUrl=engine.client("sqs").get_queue_url(QueueName=ids["queue"])["QueueUrl"],
                                      MessageBody="live one")
    seen: set[str] = set()
    event = None
    for line in lines:  # the read timeout (15 s) is the deadline
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event:
            data = json.loads(line[6:])
            if event == "logs" and any("live one" in x["message"] for x in data):
                seen.add("logs")
            if event == "invocations" and any(x["source"] == "esm" for x in data):
                seen.add("invocations")
            if event == "pulse":
                assert {q["name"] for q in data["queues"]} == {ids["queue"], ids["dlq"]}
                seen.add("pulse")
        if seen == {"logs", "invocations", "pulse"}:
            break
    stream.close()
    assert seen == {"logs", "invocations", "pulse"}
    assert session.get(url(engine, "/api/live?function=nope"), timeout=10).status_code == 404


def test_async_events_are_listed_until_dropped(engine: EngineHandle, session: requests.Session) -> None:
    fn = names(engine, session)["function"]
    lam = engine.client("lambda")
    # No "Records": the handler raises, is retried twice (0.2 s base here), then the event is dropped.
    rid = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")["ResponseMetadata"]["RequestId"]

    def finished() -> list[dict[str, Any]]:
        return [f for f in session.get(url(engine, "/api/async"), timeout=10).json()["finished"]
                if f["request_id"] == rid]

    (done,) = wait_for(finished, timeout=20, message="the async event to finish")
    assert done["outcome"] == "dropped" and done["condition"] == "RetriesExhausted" and done["attempts"] == 3


# --- data: the moto backend's buckets, tables, topics, rules, secrets and parameters -------------
@pytest.fixture(scope="module")
def cloud_data(engine: EngineHandle) -> dict[str, str]:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="console-data")
    s3.put_object(Bucket="console-data", Key="dir/<b>report</b>.txt", Body=b"hello\x00bytes")
    s3.put_object(Bucket="console-data", Key="big.bin", Body=b"x" * (16 * 1024 * 1024 + 1))
    ddb = engine.client("dynamodb")
    ddb.create_table(TableName="console-orders", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    for i in range(30):
        ddb.put_item(TableName="console-orders", Item={"pk": {"S": f"order-{i}"}, "n": {"N": str(i)},
                                                         "tags": {"L": [{"S": "<script>"}]}})
    sns = engine.client("sns")
    topic = sns.create_topic(Name="console-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="dev@example.com")
    events = engine.client("events")
    events.put_rule(Name="console-rule", EventPattern=json.dumps({"source": ["app.orders"]}))
    events.put_targets(Rule="console-rule", Targets=[{"Id": "t1", "Arn": topic}])
    engine.client("secretsmanager").create_secret(Name="console/db", SecretString="s3cr3t-value")
    engine.client("ssm").put_parameter(Name="/console/flag", Value="on", Type="String")
    return {"topic": topic}


def test_data_lists_every_kind_without_secret_values(engine: EngineHandle, session: requests.Session,
                                                     cloud_data: dict[str, str]) -> None:
    reply = session.get(url(engine, "/api/data"), timeout=60)
    assert reply.status_code == 200, reply.text
    assert "s3cr3t-value" not in reply.text
    data = reply.json()
    bucket = next(b for b in data["buckets"] if b["name"] == "console-data")
    assert bucket["objects"] == 2
    table = next(t for t in data["tables"] if t["name"] == "console-orders")
    assert table["keys"] == "pk(HASH)"
    topic = next(t for t in data["topics"] if t["arn"] == cloud_data["topic"])
    assert [s["endpoint"] for s in topic["subscriptions"]] == ["dev@example.com"]
    rule = next(r for r in data["rules"] if r["name"] == "console-rule")
    assert rule["targets"] == [{"id": "t1", "arn": cloud_data["topic"]}]
    assert {"name": "console/db"} .items() <= next(s for s in data["secrets"] if s["name"] == "console/db").items()
    assert any(p["name"] == "/console/flag" for p in data["parameters"])
    # A value only on an explicit request.
    secret = session.get(url(engine, "/api/data/secret"), params={"name": "console/db"}, timeout=30).json()
    assert secret["string"] == "s3cr3t-value"
    param = session.get(url(engine, "/api/data/parameter"), params={"name": "/console/flag"}, timeout=30).json()
    assert param["value"] == "on"


def test_bucket_objects_and_download(engine: EngineHandle, session: requests.Session,
                                     cloud_data: dict[str, str]) -> None:
    listed = session.get(url(engine, "/api/data/buckets/console-data"), timeout=30).json()
    objects = {o["key"]: o for o in listed["objects"]}
    assert objects["dir/<b>report</b>.txt"]["size"] == 11 and objects["dir/<b>report</b>.txt"]["last_modified"]
    only_dir = session.get(url(engine, "/api/data/buckets/console-data"), params={"prefix": "dir/"}, timeout=30)
    assert [o["key"] for o in only_dir.json()["objects"]] == ["dir/<b>report</b>.txt"]
    got = session.get(url(engine, "/api/data/buckets/console-data/object"),
                      params={"key": "dir/<b>report</b>.txt"}, timeout=30)
    assert got.status_code == 200 and got.content == b"hello\x00bytes"
    # Always an attachment, never a page on the console's origin.
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith('attachment; filename="b_.txt"')  # after the last /
    assert got.headers["x-content-type-options"] == "nosniff"


def test_table_scan_shows_the_first_items_with_the_key_schema(engine: EngineHandle, session: requests.Session,
                                                              cloud_data: dict[str, str]) -> None:
    table = session.get(url(engine, "/api/data/tables/console-orders"), timeout=30).json()
    assert table["key_schema"] == [{"name": "pk", "type": "HASH"}]
    assert len(table["items"]) == 25 and table["more"] is True
    item = table["items"][0]
    assert item["pk"].startswith("order-") and item["tags"] == ["<script>"]


def test_data_bad_input(engine: EngineHandle, session: requests.Session, token: str,
                        cloud_data: dict[str, str]) -> None:
    def get(path: str, **params: str) -> requests.Response:
        return session.get(url(engine, path), params=params, timeout=30)

    assert requests.get(url(engine, "/api/data"), timeout=10).status_code == 403
    assert requests.get(url(engine, "/api/data/secret"), params={"name": "console/db"}, timeout=10).status_code == 403
    assert get("/api/data/buckets/no-such-bucket").status_code == 404
    assert get("/api/data/buckets/no-such-bucket/object", key="a").status_code == 404
    missing = get("/api/data/buckets/console-data/object", key="missing")
    assert missing.status_code == 404, missing.text
    assert get("/api/data/tables/no-such-table").status_code == 404
    assert get("/api/data/secret", name="no/such").status_code == 404
    assert get("/api/data/parameter", name="/no/such").status_code == 404
    big = get("/api/data/buckets/console-data/object", key="big.bin")
    assert big.status_code == 413 and "aws s3 cp" in big.json()["error"]
    for bad in ({}, {"key": ""}, {"key": "a\x00b"}, {"key": "k" * 1025}, {"key": "line\nbreak"}):
        assert get("/api/data/buckets/console-data/object", **bad).status_code == 400, bad
    assert get("/api/data/buckets/Bad_Bucket").status_code == 400
    assert get("/api/data/buckets/console-data", prefix="\x01").status_code == 400
    assert get("/api/data/tables/x").status_code == 400
    assert get("/api/data/secret", name="<script>").status_code == 400
    assert get("/api/data/parameter").status_code == 400
    posted = session.post(url(engine, "/api/data"), headers=same_origin(engine), timeout=10)
    assert posted.status_code == 405


# --- durable executions ----------------------------------------------------------------------------
def test_executions_cost_nothing_without_a_durable_function(engine: EngineHandle, session: requests.Session) -> None:
    # Runs before the durable stack below is deployed: the page answers, the backend stays unstarted.
    listed = session.get(url(engine, "/api/executions"), timeout=10)
    assert listed.status_code == 200 and listed.json() == {"executions": [], "limit": 50}
    assert session.get(url(engine, "/api/executions/history"), params={"arn": ARN_SHAPE}, timeout=10).status_code == 404
    assert not (engine.home / "durable").exists()
    assert "durable executions" not in (engine.home / "engine.log").read_text()


ARN_SHAPE = ("arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST/durable-execution/x/"
             "00000000-0000-0000-0000-000000000000")


@pytest.fixture(scope="module")
def durable_fn(engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> str:
    return deploy_durable(engine, tmp_path_factory.mktemp("durable-console"))


def executions(engine: EngineHandle, session: requests.Session, **params: Any) -> list[dict[str, Any]]:
    resp = session.get(url(engine, "/api/executions"), params=params, timeout=30)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["executions"])


def execution_row(engine: EngineHandle, session: requests.Session, arn: str, kind: str) -> dict[str, Any] | None:
    """The execution's row once it waits for a `kind` ('wait', 'callback')."""
    rows = [r for r in executions(engine, session) if r["arn"] == arn]
    return rows[0] if rows and any(w["kind"] == kind for w in rows[0]["waits"]) else None


def test_executions_are_listed_with_history_and_fire(engine: EngineHandle, session: requests.Session,
                                                     durable_fn: str, token: str) -> None:
    lam = engine.client("lambda")
    arns = [lam.invoke(FunctionName=durable_fn, InvocationType="Event", Payload=json.dumps({"n": n}),
                       DurableExecutionName=f"order-{n}")["DurableExecutionArn"] for n in (1, 2)]
    arn = arns[1]
    row = wait_for(lambda: execution_row(engine, session, arn, "wait"), timeout=60, interval=0.3,
                   message="the execution's hour-long wait")
    assert row["name"] == "order-2" and row["function"] == durable_fn and row["status"] == "RUNNING"
    (wait,) = row["waits"]
    assert wait["name"] == "cool-off" and wait["due"] > row["started"]
    # Newest first, by function too; the plain function of the other stack has none.
    wait_for(lambda: execution_row(engine, session, arns[0], "wait"), timeout=60, interval=0.3,
             message="the first execution's wait")
    listed = [r["arn"] for r in executions(engine, session, function=durable_fn)]
    assert listed.index(arns[1]) < listed.index(arns[0])
    assert executions(engine, session, function=names(engine, session)["function"]) == []
    assert len(executions(engine, session, limit=1)) == 1

    history = session.get(url(engine, "/api/executions/history"), params={"arn": arn}, timeout=30).json()
    assert history["status"] == "RUNNING" and json.loads(history["input"]) == {"n": 2}
    kinds = [(e["type"], e["name"]) for e in history["events"]]
    assert kinds[0][0] == "ExecutionStarted" and ("StepSucceeded", "total") in kinds and ("WaitStarted", "cool-off") in kinds
    step = next(e for e in history["events"] if e["type"] == "StepSucceeded")
    assert "StepSucceededDetails" in step["details"] and '"4"' in step["details"] and step["timestamp"]

    # Fire the wait: a change, so only from the console's own origin (or with the header token).
    fire = url(engine, "/api/executions/fire")
    body = json.dumps({"arn": arn})
    assert session.post(fire, data=body, headers={"Origin": "http://evil.example"}, timeout=10).status_code == 403
    assert session.post(fire, data=body, timeout=10).status_code == 403
    fired = session.post(fire, data=body, headers=same_origin(engine), timeout=30)
    assert fired.status_code == 200 and fired.json() == {"arn": arn, "fired": 1}
    row = wait_for(lambda: execution_row(engine, session, arn, "callback"), timeout=60, interval=0.3,
                   message="the callback after the fired wait")
    (callback,) = row["waits"]
    assert callback["name"] == "approval" and callback["callback_id"]
    lam.send_durable_execution_callback_success(CallbackId=callback["callback_id"], Result=b"<script>ok</script>")
    wait_for(lambda: [r for r in executions(engine, session) if r["arn"] == arn and r["status"] == "SUCCEEDED"],
             timeout=60, interval=0.3, message="the execution to succeed")
    done = session.get(url(engine, "/api/executions/history"), params={"arn": arn}, timeout=30).json()
    assert json.loads(done["result"]) == {"total": 4, "approval": "<script>ok</script>"}
    assert done["events"][-1]["type"] == "ExecutionSucceeded" and done["waits"] == []
    assert any(e["type"] == "CallbackSucceeded" for e in done["events"])
    again = session.post(fire, data=body, headers={"X-Samlite-Token": token}, timeout=30)
    assert again.status_code == 400 and "has ended" in again.json()["error"]
    for other in arns[:1]:
        lam.stop_durable_execution(DurableExecutionArn=other)


def test_executions_bad_input(engine: EngineHandle, session: requests.Session, durable_fn: str) -> None:
    def get(path: str, **params: str) -> requests.Response:
        return session.get(url(engine, path), params=params, timeout=30)

    unknown = get("/api/executions/history", arn=ARN_SHAPE)
    assert unknown.status_code == 404 and "no durable execution" in unknown.json()["error"]
    for bad in ({}, {"arn": ""}, {"arn": "not-an-arn"}, {"arn": ARN_SHAPE + "/extra"},
                {"arn": "arn:aws:lambda:us-east-1:123456789012:function:x:$LATEST/durable-execution/"
                        + "a" * 2000 + "/b"}):
        resp = get("/api/executions/history", **bad)
        assert resp.status_code == 400 and resp.json()["error"], (bad, resp.text)
    assert "longer than 1024" in get("/api/executions/history", arn="arn:" + "x" * 5000).json()["error"]
    for limit in ("0", "51", "-1", "x", "9" * 5000):
        resp = get("/api/executions", limit=limit)
        assert resp.status_code == 400 and "limit" in resp.json()["error"], limit
    assert get("/api/executions", function="bad name!").status_code == 400
    assert get("/api/executions", function="x" * 5000).status_code == 400
    assert get("/api/executions", function="nope").status_code == 404
    fire = url(engine, "/api/executions/fire")
    hdrs = same_origin(engine)
    assert session.post(fire, data=json.dumps({"arn": ARN_SHAPE}), headers=hdrs, timeout=10).status_code == 404
    for body in ("{}", "[1]", "not json", json.dumps({"arn": 5}), json.dumps({"arn": "nope"})):
        resp = session.post(fire, data=body, headers=hdrs, timeout=10)
        assert resp.status_code == 400 and resp.json()["error"], body
    assert session.get(fire, timeout=10).status_code == 405
    assert session.post(fire, data=b"x" * (2 * 1024 * 1024), headers=hdrs, timeout=10).status_code == 413
