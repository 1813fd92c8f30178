"""Sample events in the shapes functions receive, for `samlite generate-event` and the console.

The API Gateway and function URL events are built by the same pure functions the gateway uses
(`samlite.services.apigateway.events`), and SQS records carry real MD5 digests, so a generated event
is what a deployed function would get.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any, Callable

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _sqs(opts: dict[str, Any]) -> dict[str, Any]:
    from samlite.services.sqs.md5 import md5_body

    body = opts["body"] if opts["body"] is not None else "Hello from SQS!"
    now = int(time.time() * 1000)
    queue = opts["queue_name"] or "my-queue"
    record: dict[str, Any] = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "MessageReceiptHandle",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(now), "SenderId": ACCOUNT,
                       "ApproximateFirstReceiveTimestamp": str(now + 1)},
        "messageAttributes": {},
        "md5OfBody": md5_body(body),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{opts['region']}:{ACCOUNT}:{queue}",
        "awsRegion": opts["region"],
    }
    if queue.endswith(".fifo"):
        record["attributes"].update({"SequenceNumber": "18849496460467696128", "MessageGroupId": "1",
                                     "MessageDeduplicationId": str(uuid.uuid4())})
    return {"Records": [record]}


def _request(opts: dict[str, Any], content_type: str = "application/json") -> Any:
    from samlite.services.apigateway.events import HttpRequest

    path, _, query = (opts["path"] or "/path/to/resource").partition("?")
    method = (opts["method"] or "POST").upper()
    default = "" if method in ("GET", "HEAD", "DELETE", "OPTIONS") else '{"test":"body"}'
    body = (opts["body"] if opts["body"] is not None else default).encode()
    headers = [("accept", "*/*"), ("host", "localhost"), ("user-agent", "curl/8.0")]
    if body:
        headers.append(("content-type", content_type))
    return HttpRequest(method=method, path=path if path.startswith("/") else "/" + path,
                       query=query or opts.get("query") or "", headers=headers, body=body, source_ip="127.0.0.1",
                       port=443, request_id=str(uuid.uuid4()), time_ms=int(time.time() * 1000), scheme="https")


def _api_proxy(opts: dict[str, Any]) -> dict[str, Any]:
    from samlite.services.apigateway.events import ApiContext, rest_event

    req = _request(opts)
    api = ApiContext(api_id="1234567890", stage=opts["stage"] or "prod", account_id=ACCOUNT, region=opts["region"],
                     deployment_id="wq4ghd")
    resource = opts["resource"] or req.path
    return rest_event(req, api, resource, None, resource_id="123456")


def _http_api(opts: dict[str, Any]) -> dict[str, Any]:
    from samlite.services.apigateway.events import ApiContext, http_event

    req = _request(opts)
    api = ApiContext(api_id="api-id", stage=opts["stage"] or "$default", account_id=ACCOUNT, region=opts["region"])
    route = f"{req.method} {opts['resource'] or req.path}"
    return http_event(req, api, route, None)


def _function_url(opts: dict[str, Any]) -> dict[str, Any]:
    from samlite.services.apigateway.events import ApiContext, http_event

    req = _request(opts)
    url_id = "abcdefghijklmnopqrstuvwxyz012345"
    api = ApiContext(api_id=url_id, stage="$default", account_id=ACCOUNT, region=opts["region"],
                     domain_name=f"{url_id}.lambda-url.{opts['region']}.on.aws")
    return http_event(req, api, "$default", None, function_url=True, account_id="anonymous")


def _schedule(opts: dict[str, Any]) -> dict[str, Any]:
    rule = opts["rule_name"] or "my-schedule"
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": opts["region"],
        "resources": [f"arn:aws:events:{opts['region']}:{ACCOUNT}:rule/{rule}"], "detail": {},
    }


def _s3(opts: dict[str, Any], event_name: str) -> dict[str, Any]:
    from samlite.services.events import records

    key = opts.get("key") or "test/key"
    body = (opts["body"] if opts["body"] is not None else "Hello from S3!").encode()
    deleting = event_name.startswith("ObjectRemoved")
    bucket = opts.get("bucket") or "example-bucket"
    record = records.s3_record(region=opts["region"], event_name=event_name, bucket=bucket, key=key,
                               configuration_id="testConfigRule", size=None if deleting else len(body), etag=None if deleting else hashlib.md5(body).hexdigest(), version_id=None,
                               seq=records.sequencer(), owner=ACCOUNT)
    return {"Records": [record]}


def _sns(opts: dict[str, Any]) -> dict[str, Any]:
    from samlite.services.events import records

    topic = f"arn:aws:sns:{opts['region']}:{ACCOUNT}:{opts.get('topic') or 'ExampleTopic'}"
    return records.sns_lambda_event(region=opts["region"], topic_arn=topic, subscription_arn=f"{topic}:{uuid.uuid4()}",
                                    message_id=str(uuid.uuid4()), message=opts["body"] if opts["body"] is not None
                                    else "Hello from SNS!", subject=opts.get("subject") or "TestInvoke",
                                    attributes={}, timestamp=records.iso_ms())


def _eventbridge(opts: dict[str, Any]) -> dict[str, Any]:
    import json

    from samlite.services.events import records

    detail = json.loads(opts["body"]) if opts["body"] is not None else {"key": "value"}
    return records.event(account=ACCOUNT, region=opts["region"], source=opts.get("source") or "my.app",
                         detail_type=opts.get("detail_type") or "My Event", detail=detail)


# (service, event) -> builder; aliases included.
GENERATORS: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("sqs", "receive-message"): _sqs,
    ("apigateway", "aws-proxy"): _api_proxy,
    ("apigateway", "http-api-proxy"): _http_api,
    ("lambda", "function-url"): _function_url,
    ("lambda", "functionurl"): _function_url,
    ("functionurl", "request"): _function_url,
    ("events", "schedule"): _schedule,
    ("events", "scheduled-event"): _schedule,
    ("cloudwatch", "scheduled-event"): _schedule,
    ("s3", "put"): lambda opts: _s3(opts, "ObjectCreated:Put"),
    ("s3", "delete"): lambda opts: _s3(opts, "ObjectRemoved:Delete"),
    ("sns", "notification"): _sns,
    ("eventbridge", "event"): _eventbridge,
    ("events", "event"): _eventbridge,
}

from samlite.sample_stream_events import STREAM_GENERATORS  # noqa: E402 - DynamoDB Streams and Kinesis

GENERATORS.update(STREAM_GENERATORS)
