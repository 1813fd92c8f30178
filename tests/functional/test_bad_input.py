"""Hostile input on the AWS endpoint: every case gets AWS's 4xx answer, never a 500 or a reset."""

from __future__ import annotations

import json

import pytest
import requests

from samlite.testing import EngineHandle, signed_headers


@pytest.fixture(scope="module")
def queue(engine: EngineHandle) -> str:
    return engine.client("sqs").create_queue(QueueName="bad-input")["QueueUrl"]


def sqs_json(engine: EngineHandle, action: str, body: bytes) -> requests.Response:
    return requests.post(engine.aws_url, data=body, timeout=30, headers=signed_headers("POST", engine.aws_url, body, {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}"}))


def test_max_number_of_messages_overflow(engine: EngineHandle, queue: str) -> None:
    r = sqs_json(engine, "ReceiveMessage", b'{"QueueUrl": "%s", "MaxNumberOfMessages": 1e999}' % queue.encode())
    assert r.status_code == 400, r.text
    assert r.json()["__type"].endswith("InvalidParameterValue")


def test_deeply_nested_json_is_a_400(engine: EngineHandle, queue: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    r = sqs_json(engine, "SendMessage", b'{"QueueUrl": "%s", "MessageBody": %s}' % (queue.encode(), deep))
    assert r.status_code == 400, r.text
    url = f"{engine.aws_url}/2015-03-31/functions/nope/invocations"
    body = b'{"a": ' + deep + b"}"
    r = requests.post(url, data=body, timeout=30, headers=signed_headers("POST", url, body, service="lambda"))
    assert 400 <= r.status_code < 500, r.text
    url = f"{engine.aws_url}/2015-03-31/event-source-mappings/abc"
    r = requests.put(url, data=deep, timeout=30, headers=signed_headers("PUT", url, deep, service="lambda"))
    assert 400 <= r.status_code < 500, r.text
    url = f"{engine.aws_url}/2015-03-31/event-source-mappings/"
    r = requests.post(url, data=body, timeout=30, headers=signed_headers("POST", url, body, service="lambda"))
    assert 400 <= r.status_code < 500, r.text


def test_queue_url_of_another_account(engine: EngineHandle, queue: str) -> None:
    sqs = engine.client("sqs")
    other = queue.replace("/123456789012/", "/999999999999/")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=other, MessageBody="x")


def test_invalid_characters_in_a_query_body(engine: EngineHandle, queue: str) -> None:
    body = f"Action=SendMessage&QueueUrl={queue}&MessageBody=ab%FFcd".encode()
    r = requests.post(engine.aws_url, data=body, timeout=30, headers=signed_headers("POST", engine.aws_url, body, {
        "Content-Type": "application/x-www-form-urlencoded"}))
    assert r.status_code == 400 and "InvalidMessageContents" in r.text, r.text
    r = sqs_json(engine, "SendMessage", json.dumps({"QueueUrl": queue, "MessageBody": "ab\ud800cd"}).encode())
    assert r.status_code == 400 and "InvalidMessageContents" in r.text, r.text


def test_eleven_megabytes_is_a_413(engine: EngineHandle, queue: str) -> None:
    body = b'{"QueueUrl": "%s", "MessageBody": "%s"}' % (queue.encode(), b"x" * (11 * 1024 * 1024))
    r = sqs_json(engine, "SendMessage", body)
    assert r.status_code == 413


@pytest.mark.parametrize("port", ["gateway", "aws"])
def test_a_one_megabyte_header_or_twenty_thousand_headers_are_431(engine: EngineHandle, port: str) -> None:
    url = engine.gateway_url if port == "gateway" else engine.aws_url
    for headers in ({"X-Big": "a" * 1024 * 1024}, {f"h{i}": "v" for i in range(20_000)}):
        r = requests.get(url + "/anything", headers=headers, timeout=30)
        assert r.status_code == 431, r.text
        assert r.json() == {"message": "Request Header Fields Too Large"}
    assert requests.get(url + "/anything", headers={"X-Fine": "a" * 8000}, timeout=30).status_code != 431
