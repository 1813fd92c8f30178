"""The HTTP front door: API Gateway REST and HTTP APIs and Lambda function URLs.

`GatewayApp` is a raw ASGI app. On every deploy (`reload()`) it compiles the deployed APIs into
lookup tables (route tries, CORS policies, authorizers, API keys), so a request costs dict
lookups, one event dict, one JSON encode and one call to the invoke service.

Two lanes serve requests. The direct lane (`direct()`, called by `http.DirectHttpProtocol`
before any ASGI scope exists) answers API routes and function URLs on a warm function from loop
callbacks: no task, no coroutine chain, one write. Everything else (cold starts, authorizers,
big or chunked bodies, HEAD) takes the ASGI lane (`__call__`). Both share the steps below
(`_target`, `_match`, `_event`, `_reply`, `_cors`, `_url_call`, `_url_reply`, `_wire`), so
they answer alike.

A request is resolved in three steps:
1. which API or function URL: the Host header (`{apiId}.execute-api.localhost`,
   `{urlId}.lambda-url.localhost`), else the path forms `/_api/{apiId}/...` and `/_url/{urlId}/...`,
   else, when exactly one API is deployed, the bare `/{stage}/...` form;
2. the stage segment (absent for an HTTP API on `$default`);
3. the route (`routing.RouteTable`), then CORS preflight, authorizer, API key, invoke, response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from samlite.core.aws_api import new_request_id
from samlite.core.http import (
    MAX_BODY,
    BodyTooLarge,
    DirectRespond,
    RawHeaders,
    RawRequest,
    Receive,
    Scope,
    Send,
    read_body,
)
from samlite.core.runtime.streaming import HTTP_INTEGRATION_TYPE, PRELUDE_END, ResponseSink
from samlite.services.apigateway import auth, events
from samlite.services.apigateway.cors import HttpCors, RestCors
from samlite.services.apigateway.events import (
    ApiContext,
    HttpRequest,
    Reply,
    error_reply,
)
from samlite.services.apigateway.routing import RouteTable
from samlite.template import model

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.invoke import InvokeService
    from samlite.core.stacks import StackCatalog
    from samlite.core.store import Store

log = logging.getLogger("samlite.engine")

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous request/response limit
URL_MAX_BODY = 6 * 1024 * 1024
HTTP_API_TIMEOUT_MS = 30_000
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what uvicorn refuses to write
_HOP_HEADERS = frozenset(("content-length", "transfer-encoding", "connection", "keep-alive"))

# Canned answers (bodies and codes as API Gateway / function URLs send them).
REST_MISSING_TOKEN = error_reply(403, {"message": "Missing Authentication Token"},
                                 [("x-amzn-ErrorType", "MissingAuthenticationTokenException")])
HTTP_NOT_FOUND = error_reply(404, {"message": "Not Found"})
REST_BAD_GATEWAY = error_reply(502, {"message": "Internal server error"}, [("x-amzn-ErrorType", "InternalServerErrorException")])
HTTP_INTERNAL = error_reply(500, {"message": "Internal Server Error"})
REST_TIMEOUT = error_reply(504, {"message": "Endpoint request timed out"})
HTTP_TIMEOUT = error_reply(503, {"message": "Service Unavailable"})
THROTTLED = error_reply(429, {"message": "Too Many Requests"})
# Every execution environment stayed busy for SAMLITE_ENVIRONMENT_WAIT seconds (a local limit).
NO_ENVIRONMENT = error_reply(503, {"message": "Service Unavailable: no execution environment came free in time"
                                   " (SAMLITE_MAX_ENVIRONMENTS, SAMLITE_ENVIRONMENT_WAIT)"})
BAD_REQUEST = error_reply(400, {"message": "Bad Request"})
URL_FORBIDDEN = error_reply(403, {"Message": "Forbidden"}, [("x-amzn-ErrorType", "AccessDeniedException")])
URL_TOO_LARGE = error_reply(413, {"Message": "Request must be smaller than 6291456 bytes for the InvokeFunction"
                                             " operation"})
REST_TOO_LARGE = error_reply(413, {"message": "Request Too Long"})
HTTP_TOO_LARGE = error_reply(413, {"message": "Request Entity Too Large"})
# Paths the engine itself serves on this port (the web console), handed over before API routing.
ENGINE_PREFIX = "/_samlite/"
_ENGINE_PREFIX_RAW = ENGINE_PREFIX.encode()
CFN_RESPONSE_PREFIX = "/_samlite/cfn-response/"  # custom resources' ResponseURLs


def url_auth_error(err: Any) -> Reply:
    """A function URL's AWS_IAM refusal: a bad signature is a bare Forbidden, a credential scoped
    to another service or region says so, as AWS does."""
    if err.message.startswith("Credential should be scoped"):
        return error_reply(403, {"Message": err.message}, [("x-amzn-ErrorType", err.code)])
    return URL_FORBIDDEN


@dataclass(frozen=True)
class GatewayRoute:
    """A route compiled for serving: the model route plus what serving it needs."""

    method: str
    path: str
    route: model.Route
    function_name: str
    route_key: str
    resource_id: str
    timeout_s: float | None
    api_key_required: bool
    authorizer: auth.LambdaAuthorizer | None
    payload_format: str
    iam: bool = False  # Auth.Authorizer: AWS_IAM -> a SigV4 signature is required


@dataclass
class GatewayApi:
    api: model.Api
    stack: str
    kind: str  # "rest" | "http"
    ctx: ApiContext
    table: RouteTable[GatewayRoute]
    binary: tuple[tuple[str, str], ...]
    rest_cors: RestCors | None
    http_cors: HttpCors | None
    keys: dict[str, str]  # key value -> key id


@dataclass(slots=True)
class _Target:
    """What a request is for: an API (with the path below its stage) or a function URL."""

    api: GatewayApi | None
    url: "GatewayUrl | None"
    path: str
    stage_prefix: str


@dataclass(slots=True)
class _ApiCall:
    """A request matched to a route: what its event, invoke and reply need."""

    api: GatewayApi
    route: GatewayRoute
    params: dict[str, str] | None
    req: HttpRequest
    origin: str | None


@dataclass(slots=True)
class _UrlCall:
    """A function URL request ready to invoke: its event, or the Reply that replaces it (413)."""

    target: "GatewayUrl"
    request_id: str
    origin: str | None
    payload: "bytes | Reply"


@dataclass
class GatewayUrl:
    url: model.FunctionUrl
    function_name: str
    ctx: ApiContext
    cors: HttpCors | None
    iam: bool


class GatewayApp:
    """ASGI app serving every deployed API and function URL."""

    def __init__(self, settings: "Settings", store: "Store", catalog: "StackCatalog", invoker: "InvokeService") -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.invoker = invoker
        self.apis: dict[str, GatewayApi] = {}
        self.urls: dict[str, GatewayUrl] = {}
        self.single: GatewayApi | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self.console: Any = None  # the ASGI app serving ENGINE_PREFIX (services/console), set by the engine
        self.cfn_responses: Any = None  # the ASGI app serving CFN_RESPONSE_PREFIX, set by the engine

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self.reload()

    async def stop(self) -> None:
        # Invocations that outlived their integration timeout finish inside the invoke service,
        # which drains them on its own stop; nothing is waiting on them here.
        self._background.clear()

    def reload(self) -> None:
        """Recompile every API and function URL from the deployed stacks (after deploy/delete)."""
        settings = self.settings
        keys: dict[str, dict[str, str]] = {}
        for row in self.store.query("SELECT id, value, api_id FROM api_keys"):
            keys.setdefault(row["api_id"], {})[row["value"]] = row["id"]
        apis: dict[str, GatewayApi] = {}
        urls: dict[str, GatewayUrl] = {}
        for stack in self.catalog.models():
            for api in stack.apis.values():
                try:
                    apis[api.api_id] = _compile_api(stack, api, settings.region, settings.account_id,
                                                    keys.get(api.api_id, {}))
                except (ValueError, KeyError) as exc:
                    log.error("API %s of stack %s cannot be served: %s", api.logical_id, stack.name, exc)
            for url in stack.function_urls.values():
                fn = stack.functions.get(url.function)
                if fn is None:
                    log.error("function URL %s: function %s is not in stack %s", url.logical_id, url.function, stack.name)
                    continue
                ctx = ApiContext(url.url_id, "$default", settings.account_id, settings.region,
                                 domain_name=f"{url.url_id}.lambda-url.{settings.region}.on.aws")
                urls[url.url_id] = GatewayUrl(url, fn.name, ctx, HttpCors(url.cors) if url.cors else None,
                                              url.auth_type == "AWS_IAM")
        self.apis, self.urls = apis, urls
        self.single = next(iter(apis.values())) if len(apis) == 1 else None

    # --- ASGI ------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"].startswith(CFN_RESPONSE_PREFIX) and self.cfn_responses is not None:
            await self.cfn_responses(scope, receive, send)  # a custom resource's answer (HTTP PUT)
            return
        if scope["path"].startswith(ENGINE_PREFIX) and self.console is not None:
            await self.console(scope, receive, send)
            return
        try:
            await self._dispatch(scope, receive, send)
        except Exception:  # a gateway answers, it never drops the connection
            log.exception("gateway error serving %s %s", scope.get("method"), scope.get("path"))
            try:
                await _send(send, error_reply(500, {"message": "Internal server error"}))
            except RuntimeError:
                pass  # the response had already started; uvicorn closes the connection

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = self._target(raw_path, scope["headers"])
        if isinstance(target, Reply):
            await _send(send, target)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        if target.url is not None:
            await self._serve_url(target.url, target.path, scope, headers, receive, send)
            return
        api = target.api
        assert api is not None
        rest = api.kind == "rest"
        try:
            body = await read_body(headers, receive, MAX_BODY)
        except BodyTooLarge:
            await _send(send, REST_TOO_LARGE if rest else HTTP_TOO_LARGE, close=True)
            return
        request = RawRequest(scope["method"], raw_path, scope.get("query_string", b""), scope["headers"], body,
                             scope.get("client"), scope.get("server"), scope.get("http_version", "1.1"))
        rid = new_request_id()
        call = self._match(api, target.path, target.stage_prefix, request, headers, rid)
        if isinstance(call, Reply):
            await _send(send, call, rid, rest)
            return
        try:
            authorizer_ctx = usage_key = None
            if call.route.authorizer is not None:
                authorizer_ctx, usage_key = await self._authorize(call)
            payload = self._event(call, authorizer_ctx, usage_key)
            if isinstance(payload, Reply):
                reply = payload
            else:
                reply = self._reply(call, await self._invoke(call.route.function_name, payload, call.route.timeout_s))
        except auth.Denied as denied:
            reply = denied.reply
        await _send(send, self._cors(call, reply), rid, rest)

    # --- the direct lane (http.DirectHttpProtocol) -----------------------------------------
    def direct(self, request: RawRequest, respond: DirectRespond) -> bool:
        """Serve a request from loop callbacks, without ASGI or a task: the hot path. Declined
        (False, nothing done): authorizers, integration timeouts shorter than the function's own,
        and cold starts; those take the ASGI path above. The console's paths take it too."""
        if request.raw_path.startswith(_ENGINE_PREFIX_RAW):
            return False
        target = self._target(request.raw_path, request.headers)
        if isinstance(target, Reply):
            respond(*_wire(target))
            return True
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers]
        invoker = self.invoker
        if target.url is not None:
            if target.url.url.invoke_mode == "RESPONSE_STREAM":
                return False  # streamed answers take the ASGI path
            url_call = self._url_call(target.url, target.path, request, headers)
            if isinstance(url_call, Reply):
                respond(*_wire(url_call))
                return True
            spec = self._spec(target.url.function_name)
            if spec is None:
                return False
            return self._run_direct(spec, url_call.payload, url_call.request_id, None, respond,
                                    lambda result: self._url_reply(url_call, result))
        api = target.api
        assert api is not None
        rest = api.kind == "rest"
        rid = new_request_id()
        call = self._match(api, target.path, target.stage_prefix, request, headers, rid)
        if isinstance(call, Reply):
            respond(*_wire(call, rid, rest))
            return True
        gr = call.route
        if gr.authorizer is not None:
            return False
        spec = self._spec(gr.function_name)
        if spec is None or (gr.timeout_s is not None and gr.timeout_s <= invoker.settle_bound_s(spec)):
            return False
        try:
            payload = self._event(call, None, None)
        except auth.Denied as denied:
            payload = denied.reply
        return self._run_direct(spec, payload, rid, rest, respond,
                                lambda result: self._cors(call, self._reply(call, result)))

    def _spec(self, function_name: str) -> Any:
        """The function's spec, or None when it vanished (the ASGI path reports that)."""
        try:
            return self.invoker.resolve(function_name)
        except Exception:  # noqa: BLE001
            return None

    def _run_direct(self, spec: Any, payload: "bytes | Reply", request_id: str, rest: bool | None,
                    respond: DirectRespond, to_reply: Any) -> bool:
        """Invoke on a warm environment and answer with `to_reply(result)`; False on a cold start.
        A Reply instead of a payload (413, 403) is answered through `to_reply` at once."""
        from samlite.core.invoke import TooManyRequests

        def done(result: Any) -> None:
            try:
                reply = to_reply(result)
            except Exception:  # a gateway answers, it never drops the connection
                log.exception("gateway error answering request %s", request_id)
                reply = error_reply(500, {"message": "Internal server error"})
            respond(*_wire(reply, request_id, rest))

        if isinstance(payload, Reply):
            done(payload)
            return True
        try:
            return self.invoker.run_warm(spec, payload, request_id, "gateway", done)
        except TooManyRequests:
            done(THROTTLED)
            return True

    # --- steps shared by both lanes --------------------------------------------------------
    def _target(self, raw_path: bytes, raw_headers: list[tuple[bytes, bytes]]) -> "Reply | _Target":
        """Which API or function URL a request is for (module doc, steps 1-2), or a canned answer."""
        path = _checked_path(raw_path)
        if path is None:
            return BAD_REQUEST
        host = ""
        for name, value in raw_headers:
            if name == b"host":
                host = value.decode("latin-1").lower()
                break
        if ".execute-api." in host:
            api = self.apis.get(host.split(".", 1)[0])
            rest = path
        elif path.startswith("/_api/"):
            api_id, _, tail = path[6:].partition("/")
            api = self.apis.get(api_id)
            rest = "/" + tail
        elif path.startswith("/_url/") or ".lambda-url." in host:
            if path.startswith("/_url/"):
                url_id, _, tail = path[6:].partition("/")
                rest = "/" + tail
            else:
                url_id, rest = host.split(".", 1)[0], path
            target = self.urls.get(url_id)
            return URL_FORBIDDEN if target is None else _Target(None, target, rest, "")
        else:
            api, rest = self.single, path
        if api is None:
            return HTTP_NOT_FOUND
        stage = api.ctx.stage
        prefix = ""
        if stage != "$default":
            seg_end = len(stage) + 1
            if rest[1:seg_end] != stage or (len(rest) > seg_end and rest[seg_end] != "/"):
                return REST_MISSING_TOKEN if api.kind == "rest" else HTTP_NOT_FOUND
            prefix = rest[:seg_end]
            rest = rest[seg_end:] or "/"
        return _Target(api, None, rest, prefix)

    def _match(self, api: GatewayApi, path: str, stage_prefix: str, request: RawRequest,
               headers: list[tuple[str, str]], request_id: str) -> "Reply | _ApiCall":
        """CORS preflights and the route (step 3), or the answer when there is nothing to invoke."""
        rest = api.kind == "rest"
        method = request.method
        origin = _header(headers, "origin") if api.http_cors is not None or api.rest_cors is not None else None
        if api.http_cors is not None and method == "OPTIONS" and origin:
            req_method = _header(headers, "access-control-request-method")
            if req_method:
                return Reply(204, api.http_cors.preflight(origin, req_method,
                                                          _header(headers, "access-control-request-headers")))
        match = api.table.match(method, path)
        if api.rest_cors is not None and method == "OPTIONS" and (match is None or match.route.method != "OPTIONS"):
            methods = api.table.methods_at(path)
            if methods:  # SAM's OPTIONS mock method on that resource
                return Reply(200, [("Content-Type", "application/json"), *api.rest_cors.preflight_headers(methods)])
        if match is None:
            return REST_MISSING_TOKEN if rest else HTTP_NOT_FOUND
        client = request.client or ("127.0.0.1", 0)
        server = request.server or ("127.0.0.1", 0)
        req = HttpRequest(
            method=method, path=path, query=request.query_string.decode("utf-8", "replace"), headers=headers,
            body=request.body, source_ip=client[0], port=server[1] or 0, request_id=request_id,
            time_ms=events.now_ms(), protocol=f"HTTP/{request.http_version}", stage_prefix=stage_prefix,
            full_path=request.raw_path.decode("latin-1"),
        )
        return _ApiCall(api, match.route, match.path_parameters, req, origin)

    async def _authorize(self, call: "_ApiCall") -> tuple[dict[str, Any] | None, str | None]:
        """The Lambda authorizer's context and usage key; raises auth.Denied."""
        api, gr, req, params = call.api, call.route, call.req, call.params
        assert gr.authorizer is not None
        ident = _identity(req, api.ctx)
        arn = auth.method_arn(api.ctx.region, api.ctx.account_id, api.ctx.api_id, api.ctx.stage, req.method,
                              unquote_to_bytes(req.path).decode("utf-8"))

        def request_event() -> dict[str, Any]:
            if gr.payload_format == "1.0":
                return events.rest_event(req, api.ctx, gr.path, params, binary_patterns=api.binary,
                                         resource_id=gr.resource_id, version=None if api.kind == "rest" else "1.0")
            return events.http_event(req, api.ctx, gr.route_key, params)

        return await gr.authorizer.authorize(ident, arn, request_event, self._auth_invoke)

    def _event(self, call: "_ApiCall", authorizer_ctx: dict[str, Any] | None,
               usage_key: str | None) -> "bytes | Reply":
        """IAM and API key checks, then the event as JSON bytes; raises auth.Denied."""
        api, gr, req = call.api, call.route, call.req
        rest = api.kind == "rest"
        iam = None
        if gr.iam:
            caller = _iam_caller(req, rest, self.settings.account_id, self.settings.region)
            if rest:
                iam = caller
            else:
                authorizer_ctx = {"iam": caller}
        api_key = None
        if gr.api_key_required:
            api_key = auth.check_api_key(api.keys, req.header("x-api-key") or usage_key)
        if gr.payload_format == "1.0":
            event = events.rest_event(req, api.ctx, gr.path, call.params, binary_patterns=api.binary,
                                      authorizer=authorizer_ctx, api_key=api_key, resource_id=gr.resource_id,
                                      version=None if rest else "1.0", iam=iam)
        else:
            event = events.http_event(req, api.ctx, gr.route_key, call.params, authorizer=authorizer_ctx)
        payload = events.encode_event(event)
        if len(payload) > SYNC_PAYLOAD_LIMIT:
            return REST_TOO_LARGE if rest else HTTP_TOO_LARGE
        return payload

    def _reply(self, call: "_ApiCall", result: Any) -> Reply:
        """The function's result (or a canned timeout/throttle Reply) as the API's answer."""
        rest = call.api.kind == "rest"
        if isinstance(result, Reply):  # timeout / throttle
            return result if not rest or result is not HTTP_TIMEOUT else REST_TIMEOUT
        if result.function_error is not None:
            return REST_BAD_GATEWAY if rest else HTTP_INTERNAL
        if call.route.payload_format == "1.0":
            reply = events.rest_response(result.payload, call.api.binary, call.req.header("accept"))
        else:
            reply = events.http_response(result.payload)
        if reply is None:
            return REST_BAD_GATEWAY if rest else HTTP_INTERNAL
        return reply

    @staticmethod
    def _cors(call: "_ApiCall", reply: Reply) -> Reply:
        cors = call.api.http_cors
        if cors is None:
            return reply
        return Reply(reply.status, cors.apply(call.origin, reply.headers), reply.body)  # canned replies are shared

    # --- function URLs ---------------------------------------------------------------------
    async def _serve_url(self, target: GatewayUrl, path: str, scope: Scope, headers: list[tuple[str, str]],
                         receive: Receive, send: Send) -> None:
        try:
            body = await read_body(headers, receive, URL_MAX_BODY)
        except BodyTooLarge:
            await _send(send, URL_TOO_LARGE, close=True)
            return
        request = RawRequest(scope["method"], scope.get("raw_path") or scope["path"].encode(),
                             scope.get("query_string", b""), scope["headers"], body, scope.get("client"),
                             scope.get("server"), scope.get("http_version", "1.1"))
        call = self._url_call(target, path, request, headers)
        if isinstance(call, Reply):
            await _send(send, call)
            return
        result = call.payload
        if not isinstance(result, Reply):
            if target.url.invoke_mode == "RESPONSE_STREAM":
                await self._stream_url(call, result, send)
                return
            result = await self._invoke(target.function_name, result, None, call.request_id)
        await _send(send, self._url_reply(call, result), call.request_id, None)

    async def _stream_url(self, call: "_UrlCall", payload: bytes, send: Send) -> None:
        """A RESPONSE_STREAM function URL: the answer goes out in chunks as the function writes
        them (status and headers from HttpResponseStream's prelude, else 200 and the stream's
        content type). A function that does not stream (Python, a plain Node handler) is answered
        as a BUFFERED URL would be. An error or timeout after the first bytes ends the stream."""
        from samlite.core.invoke import EnvironmentWaitTimeout, TooManyRequests

        try:
            spec = self.invoker.resolve(call.target.function_name)
        except Exception:  # noqa: BLE001 - the function vanished
            await _send(send, error_reply(500, {"message": "Internal server error"}))
            return
        sink = ResponseSink()
        task = asyncio.get_running_loop().create_task(
            self.invoker.run(spec, payload, call.request_id, source="gateway", stream=sink))
        started = False
        pending = b""
        async for chunk in sink.chunks(task):
            if not started:
                if sink.content_type == HTTP_INTEGRATION_TYPE:
                    pending += chunk
                    head, found, chunk = pending.partition(PRELUDE_END)
                    if not found:
                        continue
                    reply = _prelude_reply(head)
                else:
                    reply = Reply(200, [("Content-Type", sink.content_type or "application/octet-stream")])
                await self._start_stream(call, reply, send)
                started = True
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        try:
            result: Any = await task
        except TooManyRequests:
            result = THROTTLED
        except EnvironmentWaitTimeout:
            result = NO_ENVIRONMENT
        if not started:
            if pending or (not isinstance(result, Reply) and sink.content_type is not None
                           and result.function_error is None):
                # A stream that ended inside its prelude, or wrote nothing: what there is, as is.
                await self._start_stream(call, Reply(200, [("Content-Type", sink.content_type or "")]), send)
                await send({"type": "http.response.body", "body": pending})
                return
            await _send(send, self._url_reply(call, result), call.request_id, None)
            return
        await send({"type": "http.response.body", "body": b""})

    async def _start_stream(self, call: "_UrlCall", reply: Reply, send: Send) -> None:
        cors = call.target.cors
        if cors is not None:
            reply = Reply(reply.status, cors.apply(call.origin, reply.headers))
        status, raw, _ = _wire(reply, call.request_id, None)
        # No Content-Length: uvicorn answers with chunked transfer encoding.
        await send({"type": "http.response.start", "status": status, "headers": raw})

    def _url_call(self, target: GatewayUrl, path: str, request: RawRequest,
                  headers: list[tuple[str, str]]) -> "Reply | _UrlCall":
        """CORS preflight and AWS_IAM (answered without a request id), else the event to invoke."""
        method = request.method
        origin = _header(headers, "origin") if target.cors is not None else None
        if target.cors is not None and method == "OPTIONS" and origin:
            req_method = _header(headers, "access-control-request-method")
            if req_method:
                return Reply(204, target.cors.preflight(origin, req_method,
                                                        _header(headers, "access-control-request-headers")))
        query = request.query_string.decode("utf-8", "replace")
        authorizer = None
        account = "anonymous"
        if target.iam:
            from samlite.core.aws_api import AwsError
            from samlite.core.sigv4 import verify

            try:
                caller = verify(method, request.raw_path.decode("latin-1"), query, headers, request.body,
                                service="lambda", region=self.settings.region)
            except AwsError as err:
                return url_auth_error(err)
            account = self.settings.account_id
            iam = caller.iam_context()
            iam["accountId"] = account
            iam["userArn"] = f"arn:aws:iam::{account}:user/{caller.access_key}"
            authorizer = {"iam": iam}
        client = request.client or ("127.0.0.1", 0)
        server = request.server or ("127.0.0.1", 0)
        lambda_rid = new_request_id()
        req = HttpRequest(method=method, path=path, query=query, headers=headers, body=request.body,
                          source_ip=client[0], port=server[1] or 0, request_id=lambda_rid, time_ms=events.now_ms(),
                          protocol=f"HTTP/{request.http_version}")
        event = events.http_event(req, target.ctx, "$default", None, authorizer=authorizer, function_url=True,
                                  account_id=account)
        payload = events.encode_event(event)
        return _UrlCall(target, lambda_rid, origin, URL_TOO_LARGE if len(payload) > SYNC_PAYLOAD_LIMIT else payload)

    @staticmethod
    def _url_reply(call: "_UrlCall", result: Any) -> Reply:
        """The function's result (or a canned Reply) as the function URL's answer, with CORS."""
        if isinstance(result, Reply):
            reply = result
        elif result.function_error is not None:
            reply = HTTP_INTERNAL
        else:
            reply = events.http_response(result.payload) or HTTP_INTERNAL
        cors = call.target.cors
        if cors is not None:
            reply = Reply(reply.status, cors.apply(call.origin, reply.headers), reply.body)
        return reply

    # --- invoking --------------------------------------------------------------------------
    async def _invoke(self, function_name: str, payload: bytes, timeout_s: float | None,
                      request_id: str | None = None) -> Any:
        """InvokeResult, or a canned Reply for throttling, a missing function or a timeout."""
        from samlite.core.invoke import EnvironmentWaitTimeout, TooManyRequests

        invoker = self.invoker
        try:
            spec = invoker.resolve(function_name)
        except Exception:  # noqa: BLE001 - the function vanished (deleted stack mid-flight)
            log.error("gateway: function %s is not deployed", function_name)
            return error_reply(500, {"message": "Internal server error"})
        rid = request_id or new_request_id()
        try:
            if timeout_s is None or timeout_s > invoker.settle_bound_s(spec):
                # The function's own timeout settles the run first: await it in place (a task per
                # request would cost a task, a timer and an extra event loop iteration).
                return await invoker.run(spec, payload, rid, source="gateway")
            # The run is its own task, so at the integration timeout the gateway answers while the
            # function keeps running to its own timeout. (A waiter future and a timer handle are
            # cheaper than wait_for(shield(...)) on this hot path.)
            loop = asyncio.get_running_loop()
            task = loop.create_task(invoker.run(spec, payload, rid, source="gateway"))
            waiter = loop.create_future()

            def wake(_: Any = None) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            task.add_done_callback(wake)
            timer = loop.call_later(timeout_s, wake)
            try:
                await waiter
            finally:
                timer.cancel()
            if task.done():
                return task.result()
            task.remove_done_callback(wake)
            self._background.add(task)
            task.add_done_callback(self._forget)
            return HTTP_TIMEOUT
        except TooManyRequests:
            return THROTTLED
        except EnvironmentWaitTimeout:
            return NO_ENVIRONMENT

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # consumed: a late failure is already logged by the invoke service

    async def _auth_invoke(self, function_name: str, payload: bytes) -> tuple[bytes, str | None]:
        result = await self._invoke(function_name, payload, None)
        if isinstance(result, Reply):
            raise RuntimeError("authorizer could not be invoked")
        return result.payload, result.function_error


def _iam_caller(req: HttpRequest, rest: bool, account: str, region: str) -> dict[str, Any]:
    """Verify an AWS_IAM route's SigV4 signature; the caller for the event, or Denied (403)."""
    from samlite.core.aws_api import AwsError
    from samlite.core.sigv4 import verify

    try:
        caller = verify(req.method, req.full_path, req.query, req.headers, req.body, service="execute-api",
                        region=region)
    except AwsError as err:
        if not rest:
            raise auth.Denied(error_reply(403, {"message": "Forbidden"})) from None
        message = "Missing Authentication Token" if err.code == "MissingAuthenticationTokenException" else err.message
        raise auth.Denied(error_reply(403, {"message": message}, [("x-amzn-ErrorType", err.code)])) from None
    arn = f"arn:aws:iam::{account}:user/{caller.access_key}"
    if rest:
        return {"accessKey": caller.access_key, "accountId": account, "caller": caller.access_key,
                "user": caller.access_key, "userArn": arn}
    return {"accessKey": caller.access_key, "accountId": account, "callerId": caller.access_key,
            "cognitoIdentity": None, "principalOrgId": None, "userArn": arn, "userId": caller.access_key}


# --- compile ---------------------------------------------------------------------------------
def _function_name(stack: model.Stack, logical_id: str | None, arn: str = "") -> str:
    if logical_id and logical_id in stack.functions:
        return stack.functions[logical_id].name
    if arn:
        return arn  # the invoke service resolves names and ARNs
    raise KeyError(f"function {logical_id!r} is not in stack {stack.name!r}")


def _compile_api(stack: model.Stack, api: model.Api, region: str, account: str, keys: dict[str, str]) -> GatewayApi:
    kind = api.kind
    # JWT / Cognito authorizers have no function: the template layer warned they are not enforced.
    authorizers = {name: auth.LambdaAuthorizer(a, _function_name(stack, a.function, a.function_arn), kind)
                   for name, a in api.authorizers.items() if a.function or a.function_arn}
    routes: list[GatewayRoute] = []
    for r in api.routes:
        authorizer = authorizers.get(r.authorizer) if r.authorizer else None
        if r.authorizer and authorizer is None and r.authorizer not in ("NONE", "AWS_IAM") \
                and r.authorizer not in api.authorizers:
            raise KeyError(f"route {r.method} {r.path} names unknown authorizer {r.authorizer!r}")
        if kind == "rest":
            timeout = r.timeout_ms / 1000
        else:
            timeout = (HTTP_API_TIMEOUT_MS if r.timeout_ms == 29000 else min(r.timeout_ms, HTTP_API_TIMEOUT_MS)) / 1000
        method = r.method.upper()
        routes.append(GatewayRoute(
            method=method, path=r.path, route=r, function_name=_function_name(stack, r.function),
            route_key="$default" if r.path == "$default" else f"{method} {r.path}",
            resource_id=model.stable_id(f"{api.api_id}/{r.path}", 6),
            timeout_s=timeout, api_key_required=kind == "rest" and (r.api_key_required or api.api_key_required),
            authorizer=authorizer, payload_format="1.0" if kind == "rest" else r.payload_format,
            iam=r.authorizer == "AWS_IAM",
        ))
    ctx = ApiContext(api.api_id, api.stage_name, account, region,
                     stage_variables=dict(api.stage_variables) or None,
                     binary_media_types=tuple(api.binary_media_types),
                     deployment_id=model.stable_id(f"deployment/{api.api_id}", 6))
    cors = api.cors
    return GatewayApi(
        api=api, stack=stack.name, kind=kind, ctx=ctx, table=RouteTable(routes),
        binary=events.media_matcher(tuple(api.binary_media_types)),
        rest_cors=RestCors(cors) if cors is not None and kind == "rest" else None,
        http_cors=HttpCors(cors) if cors is not None and kind == "http" else None,
        keys=keys,
    )


# --- request helpers -------------------------------------------------------------------------
def _checked_path(raw: bytes) -> str | None:
    """The raw path as text, or None when its percent-encoding or UTF-8 is invalid (-> 400)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if "%" in text:
        if _BAD_PERCENT.search(text):
            return None
        try:
            unquote_to_bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return text


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _identity(req: HttpRequest, ctx: ApiContext) -> auth.Identity:
    headers: dict[str, str] = {}
    for key, value in req.headers:
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for key, value in events.parse_query(req.query):
        query[key] = value
    context = {"sourceIp": req.source_ip, "httpMethod": req.method, "stage": ctx.stage, "apiId": ctx.api_id,
               "requestId": req.request_id, "identity": {"sourceIp": req.source_ip,
                                                         "userAgent": headers.get("user-agent")}}
    return auth.Identity(headers, query, dict(ctx.stage_variables or {}), context)


_NAMES: dict[str, bytes] = {}


def _prelude_reply(head: bytes) -> Reply:
    """HttpResponseStream's prelude ({statusCode, headers, cookies}) as the answer's head."""
    try:
        prelude = json.loads(head) if head.strip() else {}
    except ValueError:
        prelude = None
    if not isinstance(prelude, dict):
        return HTTP_INTERNAL
    status = prelude.get("statusCode", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        status = 200
    headers = [(str(k), str(v)) for k, v in (prelude.get("headers") or {}).items()] \
        if isinstance(prelude.get("headers"), dict) else []
    headers += [("Set-Cookie", str(c)) for c in prelude.get("cookies") or [] if isinstance(c, str)]
    return Reply(status, headers)


def _header_name(name: str) -> bytes:
    """The encoded name, or b"" for hop-by-hop or invalid names (validated once per name)."""
    ok = name.lower() not in _HOP_HEADERS and bool(_TOKEN.match(name))
    encoded = name.encode("latin-1") if ok else b""
    if len(_NAMES) < 4096:
        _NAMES[name] = encoded
    return encoded


def _wire(reply: Reply, request_id: str | None = None, rest: bool | None = True) -> tuple[int, RawHeaders, bytes]:
    """(status, raw headers, body) to write; `rest` True/False adds REST/HTTP API id headers,
    None (function URLs) neither. Content-Length is the writer's to add."""
    raw: RawHeaders = []
    for name, value in reply.headers:
        bname = _NAMES.get(name)
        if bname is None:
            bname = _header_name(name)
        if not bname or (not value.isprintable() and _BAD_VALUE.search(value)):
            continue  # a function cannot break the framing or smuggle headers
        raw.append((bname, value.encode("latin-1", "replace")))
    if request_id is not None:
        raw.append((b"x-amzn-RequestId", request_id.encode()))
        if rest:
            raw.append((b"x-amz-apigw-id", request_id[:8].encode() + b"="))
        elif rest is not None:
            raw.append((b"Apigw-Requestid", request_id[:8].encode() + b"="))
    return reply.status, raw, reply.body


async def _send(send: Send, reply: Reply, request_id: str | None = None, rest: bool | None = True,
                close: bool = False) -> None:
    """Write `reply` through ASGI (see `_wire`)."""
    status, raw, body = _wire(reply, request_id, rest)
    raw.append((b"content-length", str(len(body)).encode()))
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
