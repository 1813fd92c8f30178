"""Raw API Gateway resources -> the same `model.Route`s as SAM's implicit APIs.

REST: AWS::ApiGateway::Method on a Resource tree (PathPart, ParentId up to the RestApi's
RootResourceId), with an AWS_PROXY integration whose Uri names a function of the stack; the
stage is an AWS::ApiGateway::Stage's (or a Deployment's) StageName. HTTP: AWS::ApiGatewayV2::Route
(RouteKey "GET /items" or "$default") whose Target is `integrations/<Integration>`, an AWS_PROXY
Integration to a function, PayloadFormatVersion 1.0 or 2.0, and an AWS::ApiGatewayV2::Stage.
Integrations that are not Lambda proxies (MOCK, HTTP, AWS, ...) are warned about by route.
"""

from __future__ import annotations

import re
from typing import Any

from samlite.template import model

# The caller is `assemble.Assembler` (not imported: it imports this module).
Assembler = Any

REST_API = "AWS::ApiGateway::RestApi"
HTTP_API = "AWS::ApiGatewayV2::Api"
ROUTE_TYPES = ("AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
               "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration")
_INVOCATIONS = re.compile(r"functions/(.+?)/invocations")


def _props(entry: Any) -> dict[str, Any]:
    return entry.resolved if isinstance(entry.resolved, dict) else {}


def collect(asm: Assembler) -> None:
    """Add the routes of raw Method / Route resources to `asm.routes`, keyed by API logical id."""
    b = asm.b
    entries = b.entries
    api_ids = {b.api_id(lid): lid for lid, e in entries.items() if e.type in (REST_API, HTTP_API)}
    roots = {str(b.getatt_value(lid, "RootResourceId")): lid for lid, e in entries.items() if e.type == REST_API}
    refs = {str(b.ref_value(lid)): lid for lid, e in entries.items()
            if e.type in ("AWS::ApiGateway::Resource", "AWS::ApiGatewayV2::Integration")}
    for lid, entry in entries.items():
        try:
            if entry.type == "AWS::ApiGateway::Method":
                _method(asm, lid, _props(entry), api_ids, roots, refs)
            elif entry.type == "AWS::ApiGatewayV2::Route":
                _route(asm, lid, _props(entry), api_ids, refs)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            asm._cannot(lid, exc)


def _path(asm: Assembler, resource_id: str, roots: dict[str, str], refs: dict[str, str]) -> str | None:
    parts: list[str] = []
    seen: set[str] = set()
    while resource_id not in roots:
        lid = refs.get(resource_id)
        if lid is None or lid in seen:
            return None
        seen.add(lid)
        props = _props(asm.b.entries[lid])
        parts.append(str(props.get("PathPart", "")))
        resource_id = str(props.get("ParentId"))
    return "/" + "/".join(reversed(parts))


def _method(asm: Assembler, lid: str, props: dict[str, Any], api_ids: dict[str, str],
            roots: dict[str, str], refs: dict[str, str]) -> None:
    report = asm.report(lid)
    api_lid = api_ids.get(str(props.get("RestApiId")))
    if api_lid is None:
        report(("RestApiId",), "RestApiId must refer to an AWS::ApiGateway::RestApi of this stack", "warning")
        return
    path = _path(asm, str(props.get("ResourceId")), roots, refs)
    if path is None:
        report(("ResourceId",), "ResourceId is neither the API's RootResourceId nor an "
               "AWS::ApiGateway::Resource of this stack", "error")
        return
    method = str(props.get("HttpMethod", "")).upper()
    raw_integration = props.get("Integration")
    integration: dict[str, Any] = raw_integration if isinstance(raw_integration, dict) else {}
    kind = str(integration.get("Type", "")).upper()
    function = _function(asm, integration.get("Uri"))
    if kind != "AWS_PROXY" or function is None:
        _skip(asm, lid, f"{method} {path}", kind or "no", integration.get("Uri"))
        return
    auth = str(props.get("AuthorizationType", "NONE")).upper()
    if auth not in ("NONE", ""):
        report(("AuthorizationType",), f"{method} {path}: AuthorizationType {auth} is not enforced by samlite",
               "warning")
    if _taken(asm, api_lid, method, path):
        return
    asm.routes.setdefault(api_lid, []).append(model.Route(
        method="ANY" if method == "ANY" else method, path=path, function=function, event_name=lid,
        payload_format="1.0", api_key_required=bool(props.get("ApiKeyRequired")), authorizer=None,
        timeout_ms=int(integration.get("TimeoutInMillis") or 29000)))


def _route(asm: Assembler, lid: str, props: dict[str, Any], api_ids: dict[str, str],
           refs: dict[str, str]) -> None:
    report = asm.report(lid)
    api_lid = api_ids.get(str(props.get("ApiId")))
    if api_lid is None:
        report(("ApiId",), "ApiId must refer to an AWS::ApiGatewayV2::Api of this stack", "warning")
        return
    key = str(props.get("RouteKey", ""))
    protocol = str(_props(asm.b.entries[api_lid]).get("ProtocolType", "HTTP")).upper()
    if protocol != "HTTP":
        asm.b.problems.warning("Resources", lid, ("Properties",), f"route {key}: {protocol} API routes are not "
                               "emulated; only HTTP APIs are served")
        return
    if key == "$default":
        method, path = "ANY", "$default"
    else:
        method, _, path = key.partition(" ")
        if not path.startswith("/"):
            report(("RouteKey",), f"RouteKey must be '$default' or 'METHOD /path', not {key!r}", "error")
            return
    target = str(props.get("Target", ""))
    integration_lid = refs.get(target.split("integrations/", 1)[-1]) if target.startswith("integrations/") else None
    if integration_lid is None:
        _skip(asm, lid, key, "no", None)
        return
    integration = _props(asm.b.entries[integration_lid])
    kind = str(integration.get("IntegrationType", "")).upper()
    function = _function(asm, integration.get("IntegrationUri"))
    if kind != "AWS_PROXY" or function is None:
        _skip(asm, lid, key, kind or "no", integration.get("IntegrationUri"))
        return
    payload = "1.0" if str(integration.get("PayloadFormatVersion", "2.0")) == "1.0" else "2.0"
    auth = str(props.get("AuthorizationType", "NONE")).upper()
    if auth not in ("NONE", ""):
        report(("AuthorizationType",), f"{key}: AuthorizationType {auth} is not enforced by samlite", "warning")
    if _taken(asm, api_lid, method.upper(), path):
        return
    asm.routes.setdefault(api_lid, []).append(model.Route(
        method=method.upper(), path=path, function=function, event_name=lid, payload_format=payload,
        api_key_required=False, authorizer=None, timeout_ms=int(integration.get("TimeoutInMillis") or 30000)))


def _taken(asm: Assembler, api_lid: str, method: str, path: str) -> bool:
    """A SAM event on the same API already routes this (its template also declares the Method)."""
    return any(r.method == method and r.path == path for r in asm.routes.get(api_lid, []))


def _function(asm: Assembler, uri: Any) -> str | None:
    """The stack function a Lambda integration's Uri names (invocations URI or plain ARN)."""
    if not isinstance(uri, str):
        return None
    match = _INVOCATIONS.search(uri)
    return asm._function_by_ref(match.group(1) if match else uri)


def _skip(asm: Assembler, lid: str, route: str, kind: str, uri: Any) -> None:
    where = f" ({uri})" if isinstance(uri, str) else ""
    asm.b.problems.warning("Resources", lid, ("Properties",), f"route {route}: {kind} integration{where} is not "
                           "emulated (only AWS_PROXY integrations to a function of this stack are); "
                           "requests to it get 404")


def stage(asm: Assembler, api_lid: str, default: str) -> str:
    """The StageName of the first Stage (or Deployment) of a raw API, else `default`."""
    b = asm.b
    api_id = b.api_id(api_lid)
    key = "RestApiId" if b.entries[api_lid].type == REST_API else "ApiId"
    for wanted in ("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage", "AWS::ApiGateway::Deployment"):
        for entry in b.entries.values():
            props = _props(entry)
            if entry.type == wanted and not entry.generated and str(props.get(key)) == api_id and \
                    isinstance(props.get("StageName"), str) and props["StageName"]:
                return str(props["StageName"])
    return default
