"""The Lambda REST API (`/2015-03-31/...`): Invoke, functions, event source mappings, account settings.

Invoke follows Lambda's Invoke API to the header: 200/202/204 by invocation type,
`X-Amz-Function-Error`, `X-Amz-Executed-Version`, `X-Amz-Log-Result` (base64 of the last 4 KB of
the log) with `X-Amz-Log-Type: Tail`, and the modelled API errors with AWS's messages. Errors
are raised as AwsError and serialised (x-amzn-ErrorType + {"Type": "User", "message"}) by
`core/endpoint.py`. GetFunction's Code.Location is a local URL on this endpoint that serves the
deployed zip.
"""

from __future__ import annotations

import asyncio
import base64
import re
from functools import partial
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl

from samlite.core import invoke as inv
from samlite.core.aws_api import AwsError, Reply, json_body, new_request_id
from samlite.core.endpoint import ApiService
from samlite.core.http import Request
from samlite.core.runtime.streaming import ResponseSink
from samlite.services.lambda_ import eventstream
from samlite.services.lambda_.service import LambdaService

_QUALIFIER = re.compile(r"(|[a-zA-Z0-9$_-]+)")
CODE_SIZE_UNZIPPED = 262_144_000
CODE_SIZE_ZIPPED = 52_428_800
TOTAL_CODE_SIZE = 80_530_636_800

Handler = Callable[[LambdaService, Request, dict[str, str], "re.Match[str]"], Awaitable[Reply]]


def _query(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True))


def _not_found(lambdas: "LambdaService", name: str, qualifier: str | None = None) -> AwsError:
    if name.startswith("arn:"):
        arn = name
    else:
        arn = f"arn:aws:lambda:{lambdas.settings.region}:{lambdas.settings.account_id}:function:{name}"
    if qualifier:
        arn += f":{qualifier}"
    return AwsError("ResourceNotFoundException", f"Function not found: {arn}", 404)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message, 400)


def _with_qualifier(name: str, qualifier: str | None) -> str:
    """Fold a `?Qualifier=` into the function name, refusing a conflicting one as Lambda does."""
    if qualifier is None:
        return name
    if not qualifier or len(qualifier) > 128 or not _QUALIFIER.fullmatch(qualifier):
        raise AwsError("ValidationException", f"1 validation error detected: Value '{qualifier}' at 'qualifier' "
                       "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                       "(|[a-zA-Z0-9$_-]+)", 400)
    parts = name.split(":")
    embedded = None
    if name.startswith("arn:") and len(parts) == 8:
        embedded = parts[7]
    elif not name.startswith("arn:") and len(parts) == 2:
        embedded = parts[1]
    elif len(parts) == 4 and parts[1] == "function":
        embedded = parts[3]
    if embedded is not None:
        if embedded != qualifier:
            raise _invalid("The derived qualifier from the function name does not match the specified qualifier.")
        return name
    return f"{name}:{qualifier}"


def _function_name(lambdas: "LambdaService", raw: str, qualifier: str | None) -> tuple[str, str]:
    """Resolve a path's FunctionName (+ Qualifier) to the deployed function's name."""
    if not raw or len(raw) > 170:
        raise AwsError("ValidationException", f"1 validation error detected: Value '{raw}' at 'functionName' failed "
                       "to satisfy constraint: Member must have length less than or equal to 170", 400)
    full = _with_qualifier(raw, qualifier)
    try:
        spec = lambdas.invoker.resolve(full)
    except inv.FunctionNotFound as exc:
        raise AwsError("ResourceNotFoundException", exc.message, 404) from None
    return spec.name, full


# --- Invoke ----------------------------------------------------------------------------------
async def invoke(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    invocation_type = request.header("x-amz-invocation-type") or "RequestResponse"
    log_type = request.header("x-amz-log-type") or "None"
    if log_type not in ("None", "Tail"):
        raise _invalid(f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy constraint: "
                       "Member must satisfy enum value set: [Tail, None]")
    client_context = request.header("x-amz-client-context")
    function = _with_qualifier(m.group("name"), query.get("Qualifier"))
    try:
        result = await lambdas.invoker.invoke(
            function, request.body, invocation_type=invocation_type, client_context=client_context,
            log_tail=log_type == "Tail" and invocation_type == "RequestResponse", source="api",
            durable_execution_name=request.header("x-amz-durable-execution-name"))
    except Exception as exc:
        _raise_api_error(exc)
        raise
    headers = [("x-amzn-RequestId", result.request_id)]
    if result.durable_execution_arn:
        headers.append(("X-Amz-Durable-Execution-Arn", result.durable_execution_arn))
    if result.status_code != 200:
        return Reply(result.status_code, b"", None, headers)
    headers.append(("X-Amz-Executed-Version", result.executed_version))
    if result.function_error:
        headers.append(("X-Amz-Function-Error", result.function_error))
    if log_type == "Tail":
        headers.append(("X-Amz-Log-Result", base64.b64encode(result.log_tail.encode()).decode()))
    return Reply(200, result.payload, "application/json", headers)


def _raise_api_error(exc: Exception) -> None:
    """The invoke service's refusals as the Lambda API's errors (others return: the caller re-raises)."""
    try:
        raise exc
    except inv.FunctionNotFound as exc:
        raise AwsError("ResourceNotFoundException", exc.message, 404) from None
    except inv.TooManyRequests as exc:
        raise AwsError("TooManyRequestsException", exc.message, 429, extra={"Reason": exc.reason},
                       headers={"Retry-After": "1"}) from None
    except inv.EnvironmentWaitTimeout as exc:
        # A local limit AWS does not have: a service error, not a throttle.
        raise AwsError("ServiceException", exc.message, 500) from None
    except inv.RequestTooLarge as exc:
        raise AwsError("RequestTooLargeException", exc.message, 413) from None
    except inv.InvalidRequestContent as exc:
        raise AwsError("InvalidRequestContentException", exc.message, 400) from None
    except inv.InvalidParameterValue as exc:
        raise _invalid(exc.message) from None
    except Exception:  # noqa: BLE001 - not a refusal: the caller re-raises it
        return


async def invoke_stream(lambdas: "LambdaService", request: Request, query: dict[str, str],
                        m: "re.Match[str]") -> Reply:
    """InvokeWithResponseStream: PayloadChunk events as the function writes, then InvokeComplete
    (ErrorCode, ErrorDetails, LogResult). A function that does not stream sends its whole answer
    as one chunk, as Lambda does."""
    invocation_type = request.header("x-amz-invocation-type") or "RequestResponse"
    if invocation_type not in ("RequestResponse", "DryRun"):
        raise _invalid(f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                       "satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]")
    log_type = request.header("x-amz-log-type") or "None"
    if log_type not in ("None", "Tail"):
        raise _invalid(f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy constraint: "
                       "Member must satisfy enum value set: [Tail, None]")
    function = _with_qualifier(m.group("name"), query.get("Qualifier"))
    sink = ResponseSink()
    rid = new_request_id()
    loop = asyncio.get_running_loop()
    task = loop.create_task(lambdas.invoker.invoke(
        function, request.body, invocation_type=invocation_type,
        client_context=request.header("x-amz-client-context"), log_tail=log_type == "Tail", source="api",
        request_id=rid, stream=sink))
    # Refusals (not found, throttled, bad payload) are the API's errors: wait for the first chunk
    # or the end before answering.
    first = loop.create_task(sink.queue.get())
    await asyncio.wait((task, first), return_when=asyncio.FIRST_COMPLETED)
    if task.done() and task.exception() is not None:
        first.cancel()
        exc = task.exception()
        assert isinstance(exc, Exception)
        _raise_api_error(exc)
        raise exc
    if task.done() and task.result().status_code == 204:
        first.cancel()
        return Reply(204, b"", None, [("x-amzn-RequestId", task.result().request_id)])
    head: bytes | None = None
    more = True
    if first.done():
        head = first.result()
        more = head is not None
    else:
        first.cancel()
    spec = lambdas.invoker.resolve(function)

    async def events() -> AsyncIterator[bytes]:
        if head is not None:
            yield eventstream.payload_chunk(head)
        if more:
            async for chunk in sink.chunks(task):
                yield eventstream.payload_chunk(chunk)
        try:
            result = await task
        except Exception as exc:  # noqa: BLE001 - the stream has started: report it in the trailer
            yield eventstream.invoke_complete({"ErrorCode": "ServiceException", "ErrorDetails": str(exc)})
            return
        fields: dict[str, str] = {}
        if result.function_error:
            fields["ErrorCode"] = result.error_type or "Unhandled"
            fields["ErrorDetails"] = result.payload.decode("utf-8", "replace")
        elif not result.streamed and result.payload:
            yield eventstream.payload_chunk(result.payload)
        if log_type == "Tail":
            fields["LogResult"] = base64.b64encode(result.log_tail.encode()).decode()
        yield eventstream.invoke_complete(fields)

    headers = [("x-amzn-RequestId", rid), ("X-Amz-Executed-Version", spec.version)]
    return Reply(200, b"", "application/vnd.amazon.eventstream", headers, stream=events())


# --- functions -------------------------------------------------------------------------------
def _max_items(query: dict[str, str], default: int = 50, maximum: int = 10000) -> int:
    raw = query.get("MaxItems")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _invalid(f"1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy constraint: "
                       f"Member must have value between 1 and {maximum}")
    return int(raw)


def _page(items: list[Any], query: dict[str, str], key: str, marker_key: str = "NextMarker") -> dict[str, Any]:
    limit = _max_items(query)
    marker = query.get("Marker")
    start = 0
    if marker:
        if not marker.isdigit() or int(marker) > len(items):
            raise _invalid("Invalid pagination token: the Marker is not one this endpoint issued.")
        start = int(marker)
    out: dict[str, Any] = {key: items[start:start + limit]}
    if start + limit < len(items):
        out[marker_key] = str(start + limit)
    return out


async def list_functions(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    return Reply.json(_page(lambdas.configurations(), query, "Functions"), content_type="application/json")


async def get_function(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    name, _ = _function_name(lambdas, m.group("name"), query.get("Qualifier"))
    service = lambdas
    conf = service.configuration(name)
    if conf is None:
        raise _not_found(lambdas, name)
    body = {
        "Configuration": conf,
        "Code": {"RepositoryType": "S3", "Location": f"{lambdas.aws_url}/2015-03-31/functions/{name}/code.zip"},
        "Tags": service.tags(name),
    }
    return Reply.json(body, content_type="application/json")


async def get_configuration(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    name, _ = _function_name(lambdas, m.group("name"), query.get("Qualifier"))
    conf = lambdas.configuration(name)
    if conf is None:
        raise _not_found(lambdas, name)
    return Reply.json(conf, content_type="application/json")


async def get_code(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    """Serves GetFunction's Code.Location (not an AWS operation: a presigned-URL stand-in)."""
    name, _ = _function_name(lambdas, m.group("name"), None)
    path = lambdas.code_zip(name)
    if path is None:
        raise _not_found(lambdas, name)
    return Reply(200, path.read_bytes(), "application/zip")


async def list_tags(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    name, _ = _function_name(lambdas, m.group("arn"), None)
    return Reply.json({"Tags": lambdas.tags(name)}, content_type="application/json")


async def account_settings(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    limit = lambdas.settings.account_concurrency
    reserved = sum(spec.reserved_concurrency or 0 for spec in lambdas.functions.values())
    confs = lambdas.configurations()
    total = sum(c["CodeSize"] for c in confs)
    body = {
        "AccountLimit": {"TotalCodeSize": TOTAL_CODE_SIZE, "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
                         "CodeSizeZipped": CODE_SIZE_ZIPPED, "ConcurrentExecutions": limit,
                         "UnreservedConcurrentExecutions": max(0, limit - reserved)},
        "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(confs)},
    }
    return Reply.json(body, content_type="application/json")


# --- event source mappings -------------------------------------------------------------------
async def list_mappings(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    function = query.get("FunctionName")
    name = None
    if function:
        try:
            name = lambdas.invoker.resolve(function).name
        except inv.FunctionNotFound:
            # Lambda lists nothing for a function that does not exist.
            return Reply.json({"EventSourceMappings": []}, content_type="application/json")
    items = lambdas.esm.list_mappings(function_name=name, event_source_arn=query.get("EventSourceArn") or None)
    return Reply.json(_page(items, query, "EventSourceMappings"), content_type="application/json")


def _mapping_not_found(uuid: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The resource you requested does not exist. (Service: Lambda, "
                    f"Status Code: 404, Request ID: {uuid})", 404)


async def get_mapping(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    mapping = lambdas.esm.get_mapping(m.group("uuid"))
    if mapping is None:
        raise _mapping_not_found(m.group("uuid"))
    return Reply.json(mapping, content_type="application/json")


async def update_mapping(lambdas: "LambdaService", request: Request, query: dict[str, str], m: "re.Match[str]") -> Reply:
    body = json_body(request, "InvalidRequestContentException", "Could not parse request body into json")
    enabled = body.get("Enabled")
    batch_size = body.get("BatchSize")
    if enabled is not None and not isinstance(enabled, bool):
        raise AwsError("InvalidRequestContentException", "Could not parse request body into json: Enabled must be "
                       "a boolean", 400)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)):
        raise AwsError("InvalidRequestContentException", "Could not parse request body into json: BatchSize must be "
                       "an integer", 400)
    esm = lambdas.esm
    uuid = m.group("uuid")
    if esm.get_mapping(uuid) is None:
        raise _mapping_not_found(uuid)
    try:
        mapping = esm.update_mapping(uuid, enabled=enabled, batch_size=batch_size)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    except Exception as exc:
        message = getattr(exc, "message", None)
        if message and type(exc).__name__ in ("InvalidParameterValue", "InvalidParameterValueException",
                                               "MappingError", "EsmError"):
            raise _invalid(message) from None
        raise
    if mapping is None:
        raise _mapping_not_found(uuid)
    return Reply.json(mapping, 202, content_type="application/json")


# --- routing ---------------------------------------------------------------------------------
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("POST", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations/?"), invoke),
    ("POST", re.compile(r"/2021-11-15/functions/(?P<name>[^/]+)/response-streaming-invocations/?"), invoke_stream),
    ("GET", re.compile(r"/2015-03-31/functions/?"), list_functions),
    ("GET", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/configuration/?"), get_configuration),
    ("GET", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/code\.zip"), get_code),
    ("GET", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/?"), get_function),
    ("GET", re.compile(r"/2015-03-31/event-source-mappings/?"), list_mappings),
    ("GET", re.compile(r"/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)/?"), get_mapping),
    ("PUT", re.compile(r"/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)/?"), update_mapping),
    ("GET", re.compile(r"/2016-08-19/account-settings/?"), account_settings),
    ("GET", re.compile(r"/2017-03-31/tags/(?P<arn>.+)"), list_tags),
]


async def handle(lambdas: "LambdaService", request: Request, action: str) -> Reply:
    path = request.path
    query = _query(request)
    path_matched = False
    for method, pattern, handler in _ROUTES:
        m = pattern.fullmatch(path)
        if m is None:
            continue
        path_matched = True
        if method == request.method:
            return await handler(lambdas, request, query, m)
    if path_matched:
        raise AwsError("UnknownOperationException", f"samlite does not support {request.method} {path}; functions "
                       "are created and changed with `samlite deploy`.", 400)
    raise AwsError("UnknownOperationException",
                   f"samlite does not support {request.method} {path} (supported: Invoke, InvokeWithResponseStream, ListFunctions, GetFunction, "
                   "GetFunctionConfiguration, ListEventSourceMappings, GetEventSourceMapping, "
                   "UpdateEventSourceMapping, GetAccountSettings, ListTags)", 404)


# Path prefixes of Lambda's REST API versions (Invoke, functions, mappings, account settings, tags).
PATHS = ("/2015-03-31/", "/2021-11-15/", "/2016-08-19/", "/2017-03-31/", "/2019-09-25/", "/2021-10-31/", "/2020-06-30/")


def api(lambdas: LambdaService) -> ApiService:
    return ApiService("lambda", partial(handle, lambdas), paths=PATHS)
