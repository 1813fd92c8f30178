"""The durable execution APIs of Lambda's REST protocol (`/2025-12-01/...`, signing name `lambda`).

Requests are parsed and answered by the route types and endpoint handlers of
`aws-durable-execution-sdk-python-testing` (the shapes of botocore's Lambda model), run on a
thread because the backend's calls block. samlite adds what that library leaves out:
PauseDurableExecution, ResumeDurableExecution and DeleteDurableExecution, the limits of the
Lambda model (ARN and token lengths, a 256 KB error and 1 MB callback result), and the
`x-amzn-ErrorType` header botocore reads an error's code from.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from functools import partial
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from samlite.core.aws_api import AwsError, Reply
from samlite.core.endpoint import ApiService
from samlite.core.http import Request

if TYPE_CHECKING:
    from samlite.services.durable.service import DurableService

PATHS = ("/2025-12-01/",)

# Limits of botocore's Lambda model for these operations.
MAX_ARN = 1024
MAX_TOKEN = 2048
MAX_CALLBACK_RESULT = 1024 * 1024  # SendDurableExecutionCallbackSuccess Result (blob, 1 MB)
MAX_CHECKPOINT_BODY = 6 * 1024 * 1024 + 64 * 1024  # a checkpoint carries at most Lambda's 6 MB payload
TOKEN = re.compile(r"[A-Za-z0-9+/]+={0,2}")
ARN = re.compile(r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]+:"
                 r"(\$LATEST(?:\.PUBLISHED)?|[0-9]+)/durable-execution/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+")


@functools.cache
def _library() -> Any:
    """The library's router, handlers and HTTP models, imported on first use: the engine starts
    without them (about 200 ms of imports) until a durable API is called."""
    from aws_durable_execution_sdk_python_testing import exceptions
    from aws_durable_execution_sdk_python_testing.web import handlers, models, routes

    route_handlers: dict[type[Any], type[Any]] = {
        routes.GetDurableExecutionRoute: handlers.GetDurableExecutionHandler,
        routes.CheckpointDurableExecutionRoute: handlers.CheckpointDurableExecutionHandler,
        routes.StopDurableExecutionRoute: handlers.StopDurableExecutionHandler,
        routes.GetDurableExecutionStateRoute: handlers.GetDurableExecutionStateHandler,
        routes.GetDurableExecutionHistoryRoute: handlers.GetDurableExecutionHistoryHandler,
        routes.ListDurableExecutionsByFunctionRoute: handlers.ListDurableExecutionsByFunctionHandler,
        routes.CallbackSuccessRoute: handlers.SendDurableExecutionCallbackSuccessHandler,
        routes.CallbackFailureRoute: handlers.SendDurableExecutionCallbackFailureHandler,
        routes.CallbackHeartbeatRoute: handlers.SendDurableExecutionCallbackHeartbeatHandler,
    }
    return SimpleNamespace(router=routes.Router(list(route_handlers)), handlers=route_handlers, routes=routes,
                           models=models, exceptions=exceptions)


# The operations samlite answers itself: (method, path pattern) -> action.
_OWN = [
    ("POST", re.compile(r"/2025-12-01/durable-executions/(?P<arn>[^/]+)/pause"), "pause"),
    ("POST", re.compile(r"/2025-12-01/durable-executions/(?P<arn>[^/]+)/resume"), "resume"),
    ("DELETE", re.compile(r"/2025-12-01/durable-executions/(?P<arn>[^/]+)"), "delete"),
]


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message, 400)


def _raw_path(request: Request) -> str:
    """The path still percent-encoded: an execution ARN holds `/`, which botocore sends as %2F."""
    return request.raw_path.decode("latin-1").split("?", 1)[0]


def _check_arn(arn: str) -> None:
    if len(arn) > MAX_ARN or not ARN.fullmatch(arn):
        raise _invalid(f"1 validation error detected: Value '{arn[:200]}' at 'durableExecutionArn' failed to satisfy"
                       " constraint: Member must satisfy the durable execution ARN pattern"
                       " (arn:aws:lambda:<region>:<account>:function:<name>:<version>/durable-execution/<name>/<id>)")


def _check_request(route: Any, request: Request) -> None:
    """The model's limits, before the backend sees the request."""
    arn = getattr(route, "arn", None)
    if isinstance(arn, str):
        _check_arn(arn)
    callback_id = getattr(route, "callback_id", None)
    if isinstance(callback_id, str) and (len(callback_id) > 1024 or not TOKEN.fullmatch(callback_id)):
        raise _invalid("1 validation error detected: Value at 'callbackId' failed to satisfy constraint: "
                       "Member must be base64 of at most 1024 characters")
    routes = _library().routes
    if isinstance(route, routes.CallbackSuccessRoute) and len(request.body) > MAX_CALLBACK_RESULT:
        raise AwsError("RequestTooLargeException", f"{len(request.body)} byte callback result is too large "
                       f"(limit {MAX_CALLBACK_RESULT} bytes)", 413)
    if isinstance(route, routes.CheckpointDurableExecutionRoute):
        if len(request.body) > MAX_CHECKPOINT_BODY:
            raise AwsError("RequestTooLargeException", f"{len(request.body)} byte checkpoint is too large "
                           f"(limit {MAX_CHECKPOINT_BODY} bytes)", 413)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise AwsError("SerializationException", "The request body is not valid JSON.", 400) from None
        token = body.get("CheckpointToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or not TOKEN.fullmatch(token):
            raise _invalid("Invalid checkpoint token")
    if isinstance(route, routes.GetDurableExecutionStateRoute):
        token = parse_qs(request.query_string.decode("latin-1")).get("CheckpointToken", [""])[0]
        if not token or len(token) > MAX_TOKEN or not TOKEN.fullmatch(token):
            raise _invalid("Invalid checkpoint token")


def _reply(response: Any) -> Reply:
    body = response.body_to_bytes() if response.body is not None else b""
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-type"]
    if response.status_code >= 400:
        data: dict[str, Any] = response.body if isinstance(response.body, dict) else {}
        code = data.get("Type") or {409: "DurableExecutionAlreadyStartedException", 404: "ResourceNotFoundException",
                                    429: "TooManyRequestsException"}.get(response.status_code, "ServiceException")
        headers.append(("x-amzn-ErrorType", str(code)))
    return Reply(response.status_code, body, "application/json", headers)


def _invoke_handler(service: "DurableService", route: Any, request: Request) -> Any:
    lib = _library()
    handler = lib.handlers[type(route)](service.executor)
    query = parse_qs(request.query_string.decode("latin-1"))
    headers = dict(request.headers)
    if isinstance(route, lib.routes.BytesPayloadRoute):
        http = lib.models.HTTPRequest.from_raw_bytes(body_bytes=request.body, method=request.method, path=route,
                                                     headers=headers, query_params=query)
    else:
        http = lib.models.HTTPRequest.from_bytes(body_bytes=request.body, operation_name=None, method=request.method,
                                                 path=route, headers=headers, query_params=query)
    return handler.handle(route, http)


async def _own(service: "DurableService", action: str, arn: str) -> Reply:
    _check_arn(arn)
    lib = _library()
    try:
        if action == "pause":
            await asyncio.to_thread(service.executor.pause_execution, arn, 60)
        elif action == "resume":
            await asyncio.to_thread(service.executor.resume_execution, arn)
        else:
            await asyncio.to_thread(service.delete_execution, arn)
    except lib.exceptions.AwsApiException as exc:
        return _reply(lib.models.HTTPResponse.create_error_from_exception(exc))
    except TimeoutError as exc:
        raise AwsError("ServiceException", str(exc), 500) from None
    return Reply(202, b"", "application/json")


async def handle(service: "DurableService", request: Request, action: str) -> Reply:
    await service.ensure_started()
    path = _raw_path(request)
    for method, pattern, own in _OWN:
        m = pattern.fullmatch(path)
        if m is not None and request.method == method:
            return await _own(service, own, unquote(m.group("arn")))
    lib = _library()
    try:
        route = lib.router.find_route(path, request.method)
    except lib.exceptions.UnknownRouteError:
        raise AwsError("UnknownOperationException",
                       f"samlite does not support {request.method} {unquote(path)} on the durable execution API",
                       404) from None
    _check_request(route, request)
    response = await asyncio.to_thread(_invoke_handler, service, route, request)
    return _reply(response)


def api(service: "DurableService") -> ApiService:
    return ApiService("lambda", partial(handle, service), paths=PATHS)
