"""Raw API Gateway resources -> the same `model.Route`s as SAM's implicit APIs.

REST: AWS::ApiGateway::Method on a Resource tree (PathPart, ParentId up to the RestApi's
RootResourceId), with an AWS_PROXY integration whose Uri names a function of the stack; the
stage is an AWS::ApiGateway::Stage's (or a Deployment's) StageName. HTTP: AWS::ApiGatewayV2::Route
(RouteKey "GET /items" or "$default") whose Target is `integrations/<Integration>`, an AWS_PROXY
Integration to a function, PayloadFormatVersion 1.0 or 2.0, and an AWS::ApiGatewayV2::Stage.
Integrations that are not Lambda proxies (MOCK, HTTP, AWS, ...) are warned about by route.

One module for the raw API Gateway family: a Method is only a route together with its Resource
tree, Integration and Stage, so their handlers read one another.
"""

from __future__ import annotations

import re
from typing import Any

from samlite.template import model
from samlite.template.types.api import stage_of
from samlite.template.types.base import ROUTES, Assembly, Entry, Pipeline, ResourceType
from samlite.template.types.registry import register

REST_API = "AWS::ApiGateway::RestApi"
HTTP_API = "AWS::ApiGatewayV2::Api"
_INVOCATIONS = re.compile(r"functions/(.+?)/invocations")


def _props(entry: Any) -> dict[str, Any]:
    return entry.resolved if isinstance(entry.resolved, dict) else {}


def _maps(asm: Assembly) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """API ids, root resource ids and Resource/Integration ids -> logical ids (once per run)."""
    maps = asm.memo.get("raw_apis")
    if maps is None:
        b = asm.b
        entries = b.entries
        api_ids = {b.api_id(lid): lid for lid, e in entries.items() if e.type in (REST_API, HTTP_API)}
        roots = {str(b.getatt_value(lid, "RootResourceId")): lid for lid, e in entries.items() if e.type == REST_API}
        refs = {str(b.ref_value(lid)): lid for lid, e in entries.items()
                if e.type in ("AWS::ApiGateway::Resource", "AWS::ApiGatewayV2::Integration")}
        maps = asm.memo["raw_apis"] = (api_ids, roots, refs)
    return maps


def _path(asm: Assembly, resource_id: str, roots: dict[str, str], refs: dict[str, str]) -> str | None:
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


def _method(asm: Assembly, lid: str, props: dict[str, Any], api_ids: dict[str, str],
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


def _route(asm: Assembly, lid: str, props: dict[str, Any], api_ids: dict[str, str],
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


def _taken(asm: Assembly, api_lid: str, method: str, path: str) -> bool:
    """A SAM event on the same API already routes this (its template also declares the Method)."""
    return any(r.method == method and r.path == path for r in asm.routes.get(api_lid, []))


def _function(asm: Assembly, uri: Any) -> str | None:
    """The stack function a Lambda integration's Uri names (invocations URI or plain ARN)."""
    if not isinstance(uri, str):
        return None
    match = _INVOCATIONS.search(uri)
    return asm.function_by_ref(match.group(1) if match else uri)


def _skip(asm: Assembly, lid: str, route: str, kind: str, uri: Any) -> None:
    where = f" ({uri})" if isinstance(uri, str) else ""
    asm.b.problems.warning("Resources", lid, ("Properties",), f"route {route}: {kind} integration{where} is not "
                           "emulated (only AWS_PROXY integrations to a function of this stack are); "
                           "requests to it get 404")


class Method(ResourceType):
    """AWS::ApiGateway::Method: a route of its RestApi when it is a Lambda proxy."""

    type_name = "AWS::ApiGateway::Method"
    phase = generated_phase = ROUTES

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        api_ids, roots, refs = _maps(asm)
        _method(asm, entry.logical_id, _props(entry), api_ids, roots, refs)


class Route(ResourceType):
    """AWS::ApiGatewayV2::Route: a route of its HTTP API when it targets a Lambda proxy."""

    type_name = "AWS::ApiGatewayV2::Route"
    phase = generated_phase = ROUTES

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        api_ids, _, refs = _maps(asm)
        _route(asm, entry.logical_id, _props(entry), api_ids, refs)


class Stage(ResourceType):
    """A stage (also SAM's generated one): its Ref is the stage name."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return stage_of(b, entry.source or entry.logical_id)


class Deployment(ResourceType):
    type_name = "AWS::ApiGateway::Deployment"

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return model.stable_id(f"{b.context.stack_name}/{entry.logical_id}", 6)


class Part(ResourceType):
    """Read by the routes above (Resource, Integration), or recorded only."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


register(Method())
register(Route())
register(Stage("AWS::ApiGateway::Stage"))
register(Stage("AWS::ApiGatewayV2::Stage"))
register(Deployment())
for _type in ("AWS::ApiGateway::Resource", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Deployment"):
    register(Part(_type))
