"""API Gateway and function URL events, and the mapping of function results back to HTTP.

Pure functions over plain data, so each field can be unit-tested without a server:

- `rest_event` (payload 1.0, REST APIs and HTTP API routes set to 1.0),
- `http_event` (payload 2.0, HTTP APIs and function URLs),
- `rest_response` / `http_response` turn the function's JSON result into a `Reply`, or None
  when the result is malformed (the gateway answers 502/500 then).

Emulator choices (documented in the report): REST 1.0 header names are presented in canonical
Title-Case (`Content-Type`), since uvicorn lowercases what the client sent; `domainName` is the
AWS-style `{apiId}.execute-api.{region}.amazonaws.com` (the client's own Host stays in the
headers); `X-Forwarded-Proto` is the local scheme (`http`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import unquote

from samlite.core.runtime import protocol

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Text content types that HTTP APIs and function URLs pass as text; anything else arrives base64.
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml",
               "application/x-www-form-urlencoded", "application/yaml", "application/graphql")
_TEXT_SUFFIXES = ("+json", "+xml", "+yaml")


@dataclass(slots=True)
class HttpRequest:
    """One client request, as the gateway saw it (names lowercased by uvicorn)."""

    method: str
    path: str  # raw (percent-encoded) path below the API prefix and stage, e.g. "/items/4%202"
    query: str  # raw query string, without '?'
    headers: list[tuple[str, str]]  # (lowercase name, value) in arrival order
    body: bytes
    source_ip: str
    port: int
    request_id: str
    time_ms: int
    scheme: str = "http"
    protocol: str = "HTTP/1.1"
    stage_prefix: str = ""  # "/Prod" when the URL carried a stage segment (HTTP API rawPath keeps it)
    full_path: str = ""  # the raw path exactly as the client sent it (what a SigV4 signature covers)

    def header(self, name: str) -> str | None:
        """The value of a (lowercase) header name; repeated headers joined with ','."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value if found is None else f"{found},{value}"
        return found


@dataclass(frozen=True)
class ApiContext:
    """Per-API facts, computed once per deploy."""

    api_id: str
    stage: str
    account_id: str
    region: str
    stage_variables: Mapping[str, str] | None = None
    binary_media_types: tuple[str, ...] = ()
    deployment_id: str = ""
    domain_name: str = ""

    @property
    def domain(self) -> str:
        return self.domain_name or f"{self.api_id}.execute-api.{self.region}.amazonaws.com"


@dataclass(slots=True)
class Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# --- small helpers ---------------------------------------------------------------------------
_TITLE: dict[str, str] = {}


def title_case(name: str) -> str:
    """'x-forwarded-proto' -> 'X-Forwarded-Proto' (cached: header names repeat)."""
    cached = _TITLE.get(name)
    if cached is None:
        cached = "-".join(p[:1].upper() + p[1:] for p in name.split("-"))
        if len(_TITLE) < 4096:  # bounded: names come from clients
            _TITLE[name] = cached
    return cached


_time_cache: list[Any] = [-1, ""]


def request_time(time_ms: int) -> str:
    """'09/Apr/2015:12:34:56 +0000', as API Gateway writes requestTime (cached per second)."""
    sec = time_ms // 1000
    if _time_cache[0] != sec:
        t = time.gmtime(sec)
        _time_cache[0] = sec
        _time_cache[1] = f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    return _time_cache[1]


def parse_query(query: str) -> list[tuple[str, str]]:
    """Raw query -> decoded (key, value) pairs in order; 'a' alone is ('a', '')."""
    if not query:
        return []
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part:
            key, value = unquote(key), unquote(value)
        pairs.append((key, value))
    return pairs


def media_matcher(types: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Precompute BinaryMediaTypes patterns ('image/*', '*/*', SAM's 'image~1png' escape)."""
    out = []
    for t in types:
        main, _, sub = t.replace("~1", "/").strip().lower().partition("/")
        out.append((main, sub or "*"))
    return tuple(out)


def is_binary_type(content_type: str | None, patterns: tuple[tuple[str, str], ...]) -> bool:
    if not content_type or not patterns:
        return False
    main, _, sub = content_type.split(";", 1)[0].strip().lower().partition("/")
    return any(pmain in ("*", main) and psub in ("*", sub) for pmain, psub in patterns)


def is_text_type(content_type: str | None) -> bool:
    if not content_type:
        return True  # AWS passes a body without a Content-Type as text when it is UTF-8
    ct = content_type.split(";", 1)[0].strip().lower()
    return ct.startswith(_TEXT_TYPES) or ct.endswith(_TEXT_SUFFIXES)


def _body_field(body: bytes, binary: bool) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if not binary:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # (emulator choice) non-UTF-8 bytes are passed base64 rather than mangled
    return base64.b64encode(body).decode("ascii"), True


# --- payload 1.0 -----------------------------------------------------------------------------
def rest_event(
    req: HttpRequest,
    api: ApiContext,
    resource: str,
    path_parameters: dict[str, str] | None,
    *,
    binary_patterns: tuple[tuple[str, str], ...] = (),
    authorizer: dict[str, Any] | None = None,
    api_key: tuple[str, str] | None = None,
    resource_id: str = "",
    version: str | None = None,
    iam: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The REST proxy event (payload 1.0). `api_key` is (key value, key id) when one was checked;
    `iam` is the SigV4 caller (accessKey, accountId, caller, user, userArn) of AWS_IAM routes."""
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    forwarded_for = None
    for name, value in req.headers:
        if name == "x-forwarded-for":
            forwarded_for = value
            continue
        key = title_case(name)
        headers[key] = value
        lst = multi.get(key)
        if lst is None:
            multi[key] = [value]
        else:
            lst.append(value)
    # API Gateway appends the client address and states the port and scheme it received.
    xff = f"{forwarded_for}, {req.source_ip}" if forwarded_for else req.source_ip
    headers["X-Forwarded-For"] = xff
    multi["X-Forwarded-For"] = [xff]
    headers["X-Forwarded-Port"] = str(req.port)
    multi["X-Forwarded-Port"] = [str(req.port)]
    headers["X-Forwarded-Proto"] = req.scheme
    multi["X-Forwarded-Proto"] = [req.scheme]

    pairs = parse_query(req.query)
    if pairs:
        qs: dict[str, str] | None = {}
        mqs: dict[str, list[str]] | None = {}
        for key, value in pairs:
            qs[key] = value  # type: ignore[index]  # the last value wins
            mqs.setdefault(key, []).append(value)  # type: ignore[union-attr]
    else:
        qs = mqs = None

    path = unquote(req.path) if "%" in req.path else req.path
    stage_path = f"/{api.stage}{path}" if api.stage != "$default" else path
    binary = is_binary_type(headers.get("Content-Type"), binary_patterns)
    body, b64 = _body_field(req.body, binary)
    context: dict[str, Any] = {
        "resourceId": resource_id,
        "resourcePath": resource,
        "httpMethod": req.method,
        "extendedRequestId": req.request_id[:8] + "=",
        "requestTime": request_time(req.time_ms),
        "path": stage_path,
        "accountId": api.account_id,
        "protocol": req.protocol,
        "stage": api.stage,
        "domainPrefix": api.api_id,
        "requestTimeEpoch": req.time_ms,
        "requestId": req.request_id,
        "identity": {
            "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
            "sourceIp": req.source_ip, "principalOrgId": None, "accessKey": None,
            "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
            "userAgent": headers.get("User-Agent"), "user": None,
            "apiKey": api_key[0] if api_key else None, "apiKeyId": api_key[1] if api_key else None,
            "clientCert": None,
        },
        "domainName": api.domain,
        "deploymentId": api.deployment_id,
        "apiId": api.api_id,
    }
    if iam is not None:
        context["identity"].update(iam)
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "resource": resource,
        "path": path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": mqs,
        "pathParameters": path_parameters,
        "stageVariables": dict(api.stage_variables) if api.stage_variables else None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": b64,
    }
    if version is not None:
        event = {"version": version, **event}
    return event


# --- payload 2.0 -----------------------------------------------------------------------------
def http_event(
    req: HttpRequest,
    api: ApiContext,
    route_key: str,
    path_parameters: dict[str, str] | None,
    *,
    authorizer: dict[str, Any] | None = None,
    function_url: bool = False,
    account_id: str | None = None,
) -> dict[str, Any]:
    """The HTTP API / function URL event (payload 2.0): lowercase names, repeats joined by ','."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    forwarded_for = None
    for name, value in req.headers:
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        if name == "x-forwarded-for":
            forwarded_for = value
            continue
        prev = headers.get(name)
        headers[name] = value if prev is None else f"{prev},{value}"
    headers["x-forwarded-for"] = f"{forwarded_for}, {req.source_ip}" if forwarded_for else req.source_ip
    headers["x-forwarded-port"] = str(req.port)
    headers["x-forwarded-proto"] = req.scheme

    raw_path = req.stage_prefix + req.path
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": req.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    pairs = parse_query(req.query)
    if pairs:
        qs: dict[str, str] = {}
        for key, value in pairs:
            prev = qs.get(key)
            qs[key] = value if prev is None else f"{prev},{value}"
        event["queryStringParameters"] = qs
    decoded_path = unquote(raw_path) if "%" in raw_path else raw_path
    context: dict[str, Any] = {
        "accountId": account_id or api.account_id,
        "apiId": api.api_id,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    context.update({
        "domainName": api.domain,
        "domainPrefix": api.api_id,
        "http": {"method": req.method, "path": decoded_path, "protocol": req.protocol,
                 "sourceIp": req.source_ip, "userAgent": headers.get("user-agent", "")},
        "requestId": req.request_id,
        "routeKey": route_key,
        "stage": api.stage,
        "time": request_time(req.time_ms),
        "timeEpoch": req.time_ms,
    })
    event["requestContext"] = context
    if path_parameters and not function_url:
        event["pathParameters"] = path_parameters
    if api.stage_variables and not function_url:
        event["stageVariables"] = dict(api.stage_variables)
    if req.body:
        body, b64 = _body_field(req.body, not is_text_type(headers.get("content-type")))
        event["body"] = body
        event["isBase64Encoded"] = b64
    else:
        event["isBase64Encoded"] = False
    return event


# --- responses -------------------------------------------------------------------------------
_REST_KEYS = frozenset(("statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"))
_SCALARS = (str, int, float, bool)


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _SCALARS):
        return str(value)
    return None


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and 100 <= value <= 599:
        return value
    return None


def rest_response(payload: bytes, binary_patterns: tuple[tuple[str, str], ...] = (),
                  accept: str | None = None) -> Reply | None:
    """Map a Lambda proxy result (payload 1.0 contract); None = malformed (-> 502)."""
    try:
        result = json.loads(payload)  # not orjson: it reads 65-bit integers as floats
    except ValueError:
        return None
    if type(result) is not dict or not _REST_KEYS.issuperset(result):
        return None
    status = result.get("statusCode")
    if type(status) is not int or not 100 <= status <= 599:
        status = _status(status)
        if status is None:
            return None
    headers: list[tuple[str, str]] = []
    content_type = None
    multi = result.get("multiValueHeaders")
    multi_lower: set[str] = set()
    if multi:
        if type(multi) is not dict:
            return None
        for name, values in multi.items():
            if type(values) is not list:
                return None
            multi_lower.add(name.lower())
            for v in values:
                text = v if type(v) is str else _scalar(v)
                if text is None:
                    return None
                headers.append((name, text))
    single = result.get("headers")
    if single:
        if type(single) is not dict:
            return None
        for name, value in single.items():
            if value is None:
                continue
            text = value if type(value) is str else _scalar(value)
            if text is None:
                return None
            # Docs: a name present in both keeps only the multiValueHeaders values.
            if not multi_lower or name.lower() not in multi_lower:
                headers.append((name, text))
    for name, value in headers:
        if name.lower() == "content-type":
            content_type = value
            break
    body = result.get("body")
    if body is None:
        raw = b""
    elif type(body) is str:
        raw = body.encode("utf-8")
    else:
        return None
    b64 = result.get("isBase64Encoded", False)
    if type(b64) is not bool:
        return None
    if content_type is None:
        headers.append(("Content-Type", "application/json"))
    # REST converts a base64 body to binary only when BinaryMediaTypes match Accept or the
    # response Content-Type (contentHandling); otherwise the client gets the base64 text, as on AWS.
    if b64 and raw and (is_binary_type(_first_accept(accept), binary_patterns)
                        or is_binary_type(content_type, binary_patterns)):
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None
    return Reply(status, headers, raw)


def _first_accept(accept: str | None) -> str | None:
    return accept.split(",", 1)[0] if accept else None


def http_response(payload: bytes) -> Reply | None:
    """Map a payload 2.0 result, inferring the format when there is no statusCode; None = error."""
    try:
        result = json.loads(payload)  # not orjson: it reads 65-bit integers as floats
    except ValueError:
        return None
    if not (isinstance(result, dict) and "statusCode" in result):
        if isinstance(result, str):
            body = result.encode("utf-8")
        else:
            body = payload.strip()
        return Reply(200, [("content-type", "application/json")], body)
    status = _status(result.get("statusCode"))
    if status is None:
        return None
    headers: list[tuple[str, str]] = []
    raw_headers = result.get("headers") or {}
    if not isinstance(raw_headers, dict):
        return None
    for name, value in raw_headers.items():
        if value is None:
            continue
        text = _scalar(value)
        if text is None:
            return None
        headers.append((str(name), text))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        return None
    for cookie in cookies:
        if not isinstance(cookie, str):
            return None
        headers.append(("set-cookie", cookie))
    value = result.get("body")
    if value is None:
        raw = b""
    elif isinstance(value, str):
        raw = value.encode("utf-8")
    else:
        raw = json.dumps(value).encode()
    if result.get("isBase64Encoded") is True and raw:
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None
    if not any(k.lower() == "content-type" for k, _ in headers) and raw:
        headers.append(("content-type", "application/json"))
    return Reply(status, headers, raw)


def encode_event(event: dict[str, Any]) -> bytes:
    """The event as JSON for the invoke service (an authorizer's context may hold anything)."""
    return protocol.dumps(event)


def error_reply(status: int, body: dict[str, Any], headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, [("content-type", "application/json"), *(headers or [])],
                 json.dumps(body, separators=(",", ":")).encode())


def now_ms() -> int:
    return int(time.time() * 1000)
