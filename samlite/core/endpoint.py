"""The AWS-compatible endpoint: one port that speaks AWS's wire protocols to boto3 and the aws CLI.

Each service registers an `ApiService`: how its requests are recognised and the handler that
answers them. A request is routed, in this order, by
1. its `X-Amz-Target` prefix (JSON protocol: `AmazonSQS.SendMessage`, `Logs_20140328.GetLogEvents`);
2. its path prefix (REST protocols: Lambda's `/2015-03-31/functions/...`);
3. the service in its SigV4 credential scope (`Credential=AKID/20240101/us-east-1/sqs/aws4_request`,
   or `X-Amz-Credential` in a presigned URL), which is how the query protocol (`Action=...`) of
   several services shares one port;
4. an unsigned query-protocol request goes to the service registered as the query default (SQS).
A request for a service no one serves goes to the fallback when there is one, and otherwise gets
that protocol's "unknown operation" error. Handlers raise `AwsError`; it is serialised here, once
per protocol.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

from samlite.config import Settings
from samlite.core.aws_api import AwsError, Reply, request_id
from samlite.core.faults import internal_error
from samlite.core.guard import check_caller
from samlite.core.http import (
    BodyTooLarge,
    Receive,
    Request,
    Scope,
    Send,
    read_body,
    request_head,
    respond,
)

log = logging.getLogger("samlite.engine")

Handler = Callable[[Request, str], Awaitable[Reply]]  # (request, action) -> reply


class Fallback(Protocol):
    """The backend for the services samlite does not run itself (moto): it reads the request's body
    itself, because some of its services take far larger bodies than the endpoint does (S3)."""

    def claims_unsigned(self, head: Request) -> bool:
        """Whether an unsigned request that names no service (no target, path or scope) is its."""

    async def serve(self, head: Request, receive: Receive, send: Send) -> None: ...

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
_QUERY_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"


@dataclass(frozen=True)
class ApiService:
    """One service on the endpoint: how its requests are recognised, and who answers them."""

    signing_name: str  # the service in a SigV4 credential scope: "sqs", "lambda", "monitoring", ...
    handle: Handler  # its JSON or REST protocol
    targets: tuple[str, ...] = ()  # X-Amz-Target prefixes of its JSON protocol
    paths: tuple[str, ...] = ()  # path prefixes of its REST protocol
    handle_query: Handler | None = None  # its query protocol (Action=...), if it has one
    query_default: bool = False  # unsigned query requests come here
    query_compatible: bool = False  # JSON errors carry the legacy query code (x-amzn-query-error), as SQS's do
    xml_namespace: str = _QUERY_NAMESPACE  # of its query-protocol error documents


@dataclass(frozen=True)
class Route:
    service: ApiService | None  # None: no service of samlite's answers it
    protocol: str  # "json", "rest" or "query": how errors are serialised
    action: str
    target: str = ""  # the X-Amz-Target header, for the JSON protocol
    foreign: bool = False  # it names a service samlite does not serve itself (the fallback's)


class AwsApp:
    """ASGI app for the AWS endpoint."""

    def __init__(self, settings: Settings, services: list[ApiService], fallback: Fallback | None = None) -> None:
        self.settings = settings
        self.fallback = fallback
        self._by_target = {t: s for s in services for t in s.targets}
        self._by_path = [(p, s) for s in services for p in s.paths]
        self._by_scope = {s.signing_name: s for s in services}
        self._query_default = next((s for s in services if s.query_default), None)

    def route(self, request: Request) -> Route:
        target = request.header("x-amz-target")
        if target:
            prefix, _, action = target.partition(".")
            service = self._by_target.get(prefix)
            return Route(service, "json", action, target, foreign=service is None)
        for path_prefix, path_service in self._by_path:
            if request.path.startswith(path_prefix):
                return Route(path_service, "rest", "")
        scope = signing_scope(request)
        if scope is not None and scope not in self._by_scope:
            return Route(None, "rest", "", foreign=True)
        known = self._by_scope.get(scope) if scope else self._query_default
        if known is not None and known.handle_query is None:
            return Route(known, "rest", "")
        query_action = _form(request).get("Action")
        return Route(known if query_action is not None else None, "query", query_action or "")

    def foreign(self, head: Request) -> bool:
        """Whether the fallback answers this request; decided from its head, before the body is read."""
        if self.fallback is None:
            return False
        target = head.header("x-amz-target")
        if target:
            return target.partition(".")[0] not in self._by_target
        if any(head.path.startswith(prefix) for prefix, _ in self._by_path):
            return False
        scope = signing_scope(head)
        if scope is not None:
            return scope not in self._by_scope
        return self.fallback.claims_unsigned(head)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        head = request_head(scope)
        if self.fallback is not None and self.foreign(head):
            try:
                # Browsers and unsigned callers are refused here too; the backend verifies
                # signatures itself once it has the body.
                check_caller(head, self.settings, verify=False)
            except AwsError as err:
                route = Route(None, "json" if head.header("x-amz-target") else "rest", "", foreign=True)
                reply = error_reply(err, route)
                await respond(send, reply.status, reply.body, [("x-amzn-requestid", request_id()), *reply.headers],
                              reply.content_type)
                return
            await self.fallback.serve(head, receive, send)
            return
        request = head  # the head already parsed, and its header lookups cached: only the body is left
        try:
            request.body = await read_body(request.headers, receive)
        except BodyTooLarge:
            await respond(send, 413, b'{"message": "Request entity too large"}', (), "application/json")
            return
        rid = request_id()
        route = Route(None, "query", "")
        try:
            route = self.route(request)
            check_caller(request, self.settings)
            service = route.service
            if service is not None:
                handler = service.handle_query if route.protocol == "query" else service.handle
                reply = await (handler or service.handle)(request, route.action)
            else:
                raise _unknown(route)
        except AwsError as err:
            reply = error_reply(err, route)
        except Exception as exc:  # noqa: BLE001 - an API must answer, never drop the connection
            reply = error_reply(internal_error(exc, f"{request.method} {request.path}", self.settings.home), route)
        # A service may answer with its own request id (Invoke: the invocation's); keep only that one.
        own_id = any(k.lower() == "x-amzn-requestid" for k, _ in reply.headers)
        headers = [*reply.headers] if own_id else [("x-amzn-requestid", rid), *reply.headers]
        if reply.stream is not None:
            await _respond_stream(send, reply, headers)
            return
        await respond(send, reply.status, reply.body, headers, reply.content_type)


async def _respond_stream(send: Send, reply: Reply, headers: list[tuple[str, str]]) -> None:
    """The head, then each chunk as the stream yields it (no Content-Length: chunked encoding)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if reply.content_type:
        raw.append((b"content-type", reply.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    assert reply.stream is not None
    async for chunk in reply.stream:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def signing_scope(request: Request) -> str | None:
    """The service named in the request's SigV4 credential scope, if it is signed."""
    found = _SCOPE.search(request.header("authorization", "") or "")
    if found is None and b"X-Amz-Credential" in request.query_string:
        found = _SCOPE.search("Credential=" + unquote(dict(parse_qsl(request.query_string.decode("latin-1")))
                                                    .get("X-Amz-Credential", "")))
    return found.group(1) if found else None


def _unknown(route: Route) -> AwsError:
    if route.protocol == "json":
        return AwsError("UnknownOperationException", f"Unknown target {route.target}", 400)
    if route.action:
        return AwsError("InvalidAction", f"The action {route.action} is not valid for this web service.", 400)
    if route.foreign:
        return AwsError("UnknownOperationException", "samlite does not serve this service's API.", 404)
    return AwsError("MissingAction", "No Action parameter and no X-Amz-Target header.", 400)


def _form(request: Request) -> dict[str, str]:
    pairs = parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
    ctype = request.header("content-type", "") or ""
    if request.method == "POST" and "json" not in ctype:
        try:
            pairs += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise AwsError("MalformedQueryString", "The request body is not valid UTF-8.", 400) from None
    return dict(pairs)


def error_reply(err: AwsError, route: Route) -> Reply:
    """Serialise an error in the protocol the request used."""
    headers = list(err.headers.items())
    service = route.service
    fault = "Sender" if err.sender_fault else "Receiver"
    if route.protocol == "json" and service is not None and service.query_compatible:
        headers.append(("x-amzn-query-error", f"{err.query_code or err.code};{fault}"))
        body = {"__type": f"{err.namespace or 'com.amazonaws.' + service.signing_name}#{err.code}",
                "message": err.message, **err.extra}
        return Reply.json(body, err.status, "application/x-amz-json-1.0", headers)
    if route.protocol == "json":
        body = {"__type": err.code, "Message": err.message, "message": err.message, **err.extra}
        return Reply.json(body, err.status, headers=headers)
    if route.protocol == "rest":
        headers.append(("x-amzn-errortype", err.code))
        key = "Message" if err.code == "ResourceNotFoundException" else "message"
        body = {"Type": "User" if err.sender_fault else "Service", key: err.message, **err.extra}
        return Reply.json(body, err.status, "application/json", headers)
    namespace = service.xml_namespace if service is not None else _QUERY_NAMESPACE
    xml = (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{namespace}"><Error>'
        f"<Type>{fault}</Type><Code>{escape(err.query_code or err.code)}</Code>"
        f"<Message>{escape(err.message)}</Message><Detail/></Error><RequestId>{request_id()}</RequestId></ErrorResponse>"
    )
    return Reply(err.status, xml.encode(), "text/xml", headers)
