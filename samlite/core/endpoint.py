"""The AWS-compatible endpoint: one port that speaks AWS's wire protocols to boto3 and the aws CLI.

Routing by protocol: JSON protocol by `X-Amz-Target` prefix, the SQS query protocol by `Action=`
in a form body (or query string), and Lambda's REST paths (`/2015-03-31/...`). Each service module
exposes `async def handle(engine, request, action) -> Reply` and raises `AwsError` for API errors,
which are serialised in one place per protocol.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from samlite.core.aws_api import AwsError, Reply, request_id
from samlite.core.http import BodyTooLarge, Receive, Request, Scope, Send, read_request, respond

if TYPE_CHECKING:
    from samlite.engine.server import Engine

log = logging.getLogger("samlite.engine")

# X-Amz-Target prefix -> (service module, protocol)
JSON_TARGETS = {
    "AmazonSQS": "samlite.services.sqs.api",
    "Comprehend_20171127": "samlite.services.comprehend.api",
    "Logs_20140328": "samlite.services.logs.api",
    "GraniteServiceVersion20100801": "samlite.services.cloudwatch.api",
}
LAMBDA_PREFIXES = ("/2015-03-31/", "/2016-08-19/", "/2017-03-31/", "/2019-09-25/", "/2021-10-31/", "/2020-06-30/")


class AwsApp:
    """ASGI app for the AWS endpoint."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self._modules: dict[str, Any] = {}

    def _module(self, name: str) -> Any:
        mod = self._modules.get(name)
        if mod is None:
            mod = self._modules[name] = importlib.import_module(name)
        return mod

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["type"] != "http":
            return
        if self.engine.cloud.claims(scope):  # not a samlite service: S3, DynamoDB, ... answered by moto
            await self.engine.cloud.serve(scope, receive, send)
            return
        try:
            request = await read_request(scope, receive)
        except BodyTooLarge:
            await respond(send, 413, json.dumps({"message": "Request entity too large"}), (), "application/json")
            return
        rid = request_id()
        target = request.header("x-amz-target")
        try:
            if self.engine.settings.verify_sigv4:
                from samlite.core.sigv4 import verify_request

                verify_request(request, self.engine.settings)
            if target:
                prefix, _, action = target.partition(".")
                module = JSON_TARGETS.get(prefix)
                if module is None:
                    raise AwsError("UnknownOperationException", f"Unknown target {target}", 400)
                reply = await self._module(module).handle(self.engine, request, action)
            elif request.path.startswith(LAMBDA_PREFIXES):
                reply = await self._module("samlite.services.lambda_.api").handle(self.engine, request, "")
            else:
                form = _form(request)
                action = form.get("Action")
                if action is None:
                    raise AwsError("MissingAction", "No Action parameter and no X-Amz-Target header.", 400)
                reply = await self._module("samlite.services.sqs.query").handle(self.engine, request, action)
        except AwsError as err:
            reply = _error_reply(err, target, request)
        except Exception:  # noqa: BLE001 - an API must answer, never drop the connection
            log.exception("internal error serving %s %s", request.method, request.path)
            reply = _error_reply(AwsError("ServiceException", "Internal error", 500, sender_fault=False), target, request)
        # A service may answer with its own request id (Invoke: the invocation's); keep only that one.
        own_id = any(k.lower() == "x-amzn-requestid" for k, _ in reply.headers)
        headers = [*reply.headers] if own_id else [("x-amzn-requestid", rid), *reply.headers]
        await respond(send, reply.status, reply.body, headers, reply.content_type)


def _form(request: Request) -> dict[str, str]:
    pairs = parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
    ctype = request.header("content-type", "") or ""
    if request.method == "POST" and "json" not in ctype:
        try:
            pairs += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise AwsError("MalformedQueryString", "The request body is not valid UTF-8.", 400) from None
    return dict(pairs)


def _error_reply(err: AwsError, target: str | None, request: Request) -> Reply:
    """Serialise an error in the protocol the request used."""
    headers = list(err.headers.items())
    if target and target.startswith("AmazonSQS"):
        headers.append(("x-amzn-query-error", f"{err.query_code or err.code};{'Sender' if err.sender_fault else 'Receiver'}"))
        body = {"__type": f"{err.namespace or 'com.amazonaws.sqs'}#{err.code}", "message": err.message, **err.extra}
        return Reply.json(body, err.status, "application/x-amz-json-1.0", headers)
    if target:
        body = {"__type": err.code, "Message": err.message, "message": err.message, **err.extra}
        return Reply.json(body, err.status, headers=headers)
    if request.path.startswith(LAMBDA_PREFIXES):
        headers.append(("x-amzn-errortype", err.code))
        key = "Message" if err.code == "ResourceNotFoundException" else "message"
        body = {"Type": "User" if err.sender_fault else "Service", key: err.message, **err.extra}
        return Reply.json(body, err.status, "application/json", headers)
    from xml.sax.saxutils import escape

    xml = (
        '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error>'
        f"<Type>{'Sender' if err.sender_fault else 'Receiver'}</Type><Code>{escape(err.query_code or err.code)}</Code>"
        f"<Message>{escape(err.message)}</Message><Detail/></Error><RequestId>{request_id()}</RequestId></ErrorResponse>"
    )
    return Reply(err.status, xml.encode(), "text/xml", headers)
