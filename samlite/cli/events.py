"""`samlite generate-event SERVICE EVENT`: print sample events in the shapes functions receive.

The API Gateway and function URL events are built by the same pure functions the gateway uses
(`samlite.services.apigateway.events`), and SQS records carry real MD5 digests, so a generated event is what
a deployed function would get. Supported (SAM's names and aliases):

    sqs receive-message              apigateway aws-proxy           apigateway http-api-proxy
    lambda function-url (functionurl) events schedule (cloudwatch scheduled-event)
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable

import click

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
}


def _listing() -> str:
    return ", ".join(f"{s} {e}" for s, e in GENERATORS)


@click.command("generate-event")
@click.argument("service", required=False)
@click.argument("event", required=False)
@click.option("--body", default=None, help="Message body (sqs) or request body (apigateway, lambda function-url).")
@click.option("--queue-name", default=None, help="SQS queue name for eventSourceARN (default my-queue).")
@click.option("--path", default=None, help="Request path, optionally with ?query (default /path/to/resource).")
@click.option("--method", default=None, help="HTTP method (default POST).")
@click.option("--resource", default=None, help="API resource / route path, e.g. /items/{id} (default: the path).")
@click.option("--stage", default=None, help="API stage (default prod; $default for HTTP APIs).")
@click.option("--rule-name", default=None, help="EventBridge rule name for schedule events.")
@click.option("--region", default=REGION, show_default=True, help="Region written into the event.")
def generate_event(service: str | None, event: str | None, body: str | None, queue_name: str | None,
                   path: str | None, method: str | None, resource: str | None, stage: str | None,
                   rule_name: str | None, region: str) -> None:
    """Print a sample event for SERVICE EVENT as JSON on stdout.

    \b
    Examples:
      samlite generate-event sqs receive-message --body '{"id": 1}' > event.json
      samlite generate-event apigateway aws-proxy --method GET --path '/items/42?q=1'
      samlite generate-event apigateway http-api-proxy
      samlite generate-event lambda function-url
      samlite generate-event events schedule
    """
    from samlite.errors import UsageError

    if service is None or event is None:
        raise UsageError("name the SERVICE and EVENT", hint=f"Available: {_listing()}.")
    builder = GENERATORS.get((service.lower(), event.lower()))
    if builder is None:
        raise UsageError(f"no sample event {service} {event}", hint=f"Available: {_listing()}.")
    opts = {"body": body, "queue_name": queue_name, "path": path, "method": method, "resource": resource,
            "stage": stage, "rule_name": rule_name, "region": region}
    click.echo(json.dumps(builder(opts), indent=2))
