"""Who may call an API: REST API keys, Lambda authorizers (REST TOKEN/REQUEST, HTTP API), and
IAM policy evaluation of authorizer output.

An authorizer is compiled once per deploy (`LambdaAuthorizer`): its identity sources are parsed
and its ValidationExpression compiled. Per request it extracts the identity, answers from its
TTL cache keyed by the identity values (re-evaluating a cached REST policy against the new
methodArn, as API Gateway does), or invokes the authorizer function through the same invoke
path as every other call. Failures are raised as `Denied(reply)` carrying AWS's exact answer.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from samlite.services.apigateway.events import Reply, error_reply
from samlite.template.model import Authorizer

# (physical function name, event bytes) -> (payload bytes, function_error or None)
Invoke = Callable[[str, bytes], Awaitable[tuple[bytes, "str | None"]]]

UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
EXPLICIT_DENY = {"Message": "User is not authorized to access this resource with an explicit deny "
                            "in an identity-based policy"}
IMPLICIT_DENY = {"Message": "User is not authorized to access this resource"}
_CACHE_LIMIT = 10_000


class Denied(Exception):
    """The request stops here with `reply` (401, 403 or 500)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def unauthorized() -> Denied:
    return Denied(error_reply(401, UNAUTHORIZED, [("x-amzn-ErrorType", "UnauthorizedException")]))


def config_error(kind: str) -> Denied:
    if kind == "rest":
        # AWS answers {"message": null} with the error type in a header.
        return Denied(error_reply(500, {"message": None}, [("x-amzn-ErrorType", "AuthorizerConfigurationException")]))
    return Denied(error_reply(500, {"message": "Internal Server Error"}))


# --- API keys --------------------------------------------------------------------------------
def check_api_key(keys: dict[str, str], given: str | None) -> tuple[str, str]:
    """`keys` maps key value -> key id for one API; returns (value, id) or raises 403 Forbidden."""
    key_id = keys.get(given) if given else None
    if key_id is None:
        raise Denied(error_reply(403, FORBIDDEN, [("x-amzn-ErrorType", "ForbiddenException")]))
    return given, key_id  # type: ignore[return-value]


# --- IAM policy evaluation -------------------------------------------------------------------
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _wildcard(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                              re.DOTALL)
        if len(_PATTERNS) < _CACHE_LIMIT:
            _PATTERNS[pattern] = compiled
    return compiled


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def evaluate_policy(policy: dict[str, Any], arn: str) -> str | None:
    """'Allow', 'Deny' (explicit) or None (no statement allows: implicit deny) for execute-api:Invoke."""
    allowed = False
    for st in _as_list(policy.get("Statement", [])):
        if not isinstance(st, dict):
            raise ValueError("policy statement is not an object")
        actions = [str(a) for a in _as_list(st.get("Action", []))]
        if not any(_wildcard(a).fullmatch("execute-api:Invoke") for a in actions):
            continue
        resources = [str(r) for r in _as_list(st.get("Resource", []))]
        if not any(_wildcard(r).fullmatch(arn) for r in resources):
            continue
        effect = str(st.get("Effect", ""))
        if effect == "Deny":
            return "Deny"
        if effect == "Allow":
            allowed = True
    return "Allow" if allowed else None


def _check_context(context: Any) -> dict[str, Any]:
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise ValueError("context is not an object")
    for key, value in context.items():
        if isinstance(value, (dict, list)):
            raise ValueError(f"context value {key!r} is not a string, number or boolean")
    return context


# --- identity sources ------------------------------------------------------------------------
_SOURCE_PREFIXES = (
    ("$request.header.", "header"), ("method.request.header.", "header"), ("header:", "header"),
    ("$request.querystring.", "query"), ("method.request.querystring.", "query"), ("query:", "query"),
    ("querystring:", "query"), ("$stageVariables.", "stage"), ("stageVariables.", "stage"),
    ("stageVariables:", "stage"), ("stage:", "stage"), ("$context.", "context"), ("context.", "context"),
    ("context:", "context"),
)


def parse_source(source: str) -> tuple[str, str]:
    """'$request.header.Authorization' / 'header:Authorization' -> ('header', 'authorization')."""
    for prefix, kind in _SOURCE_PREFIXES:
        if source.startswith(prefix):
            name = source[len(prefix):]
            return kind, name.lower() if kind == "header" else name
    return "header", source.lower()


@dataclass(frozen=True)
class Identity:
    """Where the request's identity values come from."""

    headers: dict[str, str]  # lowercase name -> joined value
    query: dict[str, str]
    stage_variables: dict[str, str]
    context: dict[str, Any]


def _lookup(kind: str, name: str, ident: Identity) -> str | None:
    if kind == "header":
        return ident.headers.get(name)
    if kind == "query":
        return ident.query.get(name)
    if kind == "stage":
        return ident.stage_variables.get(name)
    value: Any = ident.context
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return None if value is None else str(value)


# --- Lambda authorizers ----------------------------------------------------------------------
class LambdaAuthorizer:
    """One configured authorizer of one API, with its result cache."""

    def __init__(self, spec: Authorizer, function_name: str, kind: str) -> None:
        self.spec = spec
        self.function_name = function_name
        self.kind = kind  # "rest" | "http"
        self.token = kind == "rest" and spec.type.upper() == "TOKEN"
        self.header = spec.identity_header.lower()
        self.validation = re.compile(spec.validation_expression) if spec.validation_expression else None
        self.sources = [parse_source(s) for s in spec.identity_sources]
        # REST TOKEN authorizers always cache by token; others need identity sources to cache.
        self.ttl = spec.ttl_seconds if (self.token or self.sources) else 0
        self._cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}

    def identity(self, ident: Identity) -> list[str]:
        """The identity values; a missing one is 401 without invoking (as on AWS)."""
        if self.token:
            token = ident.headers.get(self.header)
            if not token:
                raise unauthorized()
            if self.validation is not None and not self.validation.fullmatch(token):
                raise unauthorized()
            return [token]
        values = []
        for kind, name in self.sources:
            value = _lookup(kind, name, ident)
            if not value:
                raise unauthorized()
            values.append(value)
        return values

    async def authorize(self, ident: Identity, arn: str, request_event: Callable[[], dict[str, Any]],
                        invoke: Invoke, *, now: float | None = None) -> tuple[dict[str, Any], str | None]:
        """Run the authorizer (or use its cache); return (requestContext.authorizer, usage key).

        `arn` is the methodArn (REST) or routeArn (HTTP API); `request_event` builds the request
        event for REQUEST-type authorizers lazily (TOKEN ones never need it).
        """
        values = self.identity(ident)
        key = tuple(values)
        current = time.monotonic() if now is None else now
        cached = self._cache.get(key) if self.ttl else None
        if cached is not None and cached[0] > current:
            output = cached[1]
        else:
            output = await self._invoke(values, arn, request_event, invoke)
            if self.ttl:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = (current + self.ttl, output)
        return self._decide(output, arn)

    async def _invoke(self, values: list[str], arn: str, request_event: Callable[[], dict[str, Any]],
                      invoke: Invoke) -> dict[str, Any]:
        if self.token:
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
        elif self.kind == "rest":
            event = {"type": "REQUEST", "methodArn": arn, **request_event()}
        elif self.spec.payload_format == "2.0":
            event = {**request_event(), "type": "REQUEST", "routeArn": arn, "identitySource": values}
        else:
            event = {**request_event(), "type": "REQUEST", "methodArn": arn, "identitySource": ",".join(values)}
        try:
            payload, error = await invoke(self.function_name, json.dumps(event).encode())
        except Denied:
            raise
        except Exception:  # noqa: BLE001 - throttled or missing authorizer function
            raise config_error(self.kind) from None
        if error is not None:
            try:
                message = json.loads(payload).get("errorMessage")
            except (ValueError, AttributeError):
                message = None
            if message == "Unauthorized":
                raise unauthorized()
            raise config_error(self.kind)
        try:
            output = json.loads(payload)
            return self._validate(output)
        except ValueError:
            raise config_error(self.kind) from None

    def _validate(self, output: Any) -> dict[str, Any]:
        if not isinstance(output, dict):
            raise ValueError("authorizer output is not an object")
        if self.kind == "http" and self.spec.simple_responses and self.spec.payload_format == "2.0":
            if not isinstance(output.get("isAuthorized"), bool):
                raise ValueError("isAuthorized missing")
            _check_context(output.get("context"))
            return output
        policy = output.get("policyDocument")
        if not isinstance(policy, dict):
            raise ValueError("policyDocument missing")
        if self.kind == "rest" and not isinstance(output.get("principalId"), (str, int)):
            raise ValueError("principalId missing")
        _check_context(output.get("context"))
        evaluate_policy(policy, "arn:probe")  # shape check now, so the cache holds only valid output
        return output

    def _decide(self, output: dict[str, Any], arn: str) -> tuple[dict[str, Any], str | None]:
        context = _check_context(output.get("context"))
        if "isAuthorized" in output and self.kind == "http" and self.spec.simple_responses:
            if not output["isAuthorized"]:
                raise Denied(error_reply(403, FORBIDDEN))
            return {"lambda": dict(context)}, None
        effect = evaluate_policy(output["policyDocument"], arn)
        if effect != "Allow":
            if self.kind == "http":
                raise Denied(error_reply(403, FORBIDDEN))
            body = EXPLICIT_DENY if effect == "Deny" else IMPLICIT_DENY
            raise Denied(error_reply(403, body, [("x-amzn-ErrorType", "AccessDeniedException")]))
        if self.kind == "http":
            return {"lambda": dict(context)}, None
        result: dict[str, Any] = {"principalId": str(output.get("principalId")), **context, "integrationLatency": 0}
        usage = output.get("usageIdentifierKey")
        return result, (str(usage) if usage is not None else None)


def method_arn(region: str, account: str, api_id: str, stage: str, method: str, path: str) -> str:
    """arn:aws:execute-api:{region}:{acct}:{apiId}/{stage}/{METHOD}/{path without leading slash}."""
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path.lstrip('/')}"
