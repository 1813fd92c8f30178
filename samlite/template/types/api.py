"""REST and HTTP APIs: AWS::Serverless::Api, AWS::ApiGateway::RestApi, AWS::Serverless::HttpApi and
AWS::ApiGatewayV2::Api, served on the gateway port.

One module for the four: each SAM type is its API Gateway type plus SAM's expansion, and one
assembly makes the `model.Api` of either kind from the routes the functions' events, the
OpenAPI DefinitionBody and raw Method/Route resources gave it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from samlite.template import model
from samlite.template.schema_parts import ANY, BOOL, INT, LIST, OBJ, STR, obj, typed
from samlite.template.types.base import (
    APIS,
    Assembly,
    Entry,
    Pipeline,
    ResourceType,
    alnum,
    as_dict,
    attributes,
    hex_of,
    merge_globals,
    plain_dict,
)
from samlite.template.types.function_url import cors_v2, strs
from samlite.template.types.registry import register
from samlite.template.validate import as_bool, as_int

REST_TIMEOUT_MS = 29000
HTTP_TIMEOUT_MS = 30000
REST_TYPES = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")
HTTP_TYPES = ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api")

API_COMMON = {"Auth": OBJ, "Cors": typed("string", "object"), "BinaryMediaTypes": LIST,
              "OpenApiVersion": typed("string", "number"), "Variables": OBJ,  # SAM takes an unquoted 3.0 too
              "Name": STR, "EndpointConfiguration": ANY,
              "MethodSettings": LIST, "AccessLogSetting": OBJ, "TracingEnabled": BOOL,
              "CacheClusterEnabled": BOOL, "CacheClusterSize": STR, "CanarySetting": OBJ,
              "Domain": OBJ, "GatewayResponses": OBJ, "MinimumCompressionSize": INT,
              "Models": OBJ, "Tags": OBJ, "DisableExecuteApiEndpoint": BOOL, "Mode": STR,
              "AlwaysDeploy": BOOL, "PropagateTags": BOOL, "ApiKeySourceType": STR,
              "MergeDefinitions": BOOL, "FailOnWarnings": BOOL}
API = obj({**API_COMMON, "StageName": STR, "DefinitionBody": ANY, "DefinitionUri": ANY,
           "Description": STR, "Policy": ANY}, required=("StageName",))
HTTP_API_COMMON = {"Auth": OBJ, "CorsConfiguration": typed("boolean", "object"),
                   "StageVariables": OBJ, "Tags": OBJ, "RouteSettings": OBJ,
                   "DefaultRouteSettings": OBJ, "AccessLogSettings": OBJ, "Domain": OBJ,
                   "FailOnWarnings": BOOL, "DisableExecuteApiEndpoint": BOOL, "PropagateTags": BOOL}
HTTP_API = obj({**HTTP_API_COMMON, "StageName": STR, "DefinitionBody": ANY, "DefinitionUri": ANY,
                "Description": STR, "Name": STR})


def _int(value: Any, default: int) -> int:
    number = as_int(value)
    return default if number is None else number


def _unquote(value: Any) -> tuple[str, ...]:
    """REST Cors values are quoted header strings: "'*'" -> ("*",), "'GET,POST'" -> both."""
    if not isinstance(value, str):
        return ()
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return tuple(p.strip() for p in text.split(",") if p.strip())


def stage_of(b: Pipeline, api_lid: str) -> str:
    """An API's StageName, else its default stage ("Prod" for REST, "$default" for HTTP)."""
    api = b.entries.get(api_lid)
    if api is None:
        return "$default"
    stage = b.resolve_property(api_lid, "StageName")
    if isinstance(stage, str) and stage:
        return stage
    return "$default" if api.type in HTTP_TYPES else "Prod"


def raw_stage(b: Pipeline, api_lid: str, default: str) -> str:
    """The StageName of the first Stage (or Deployment) of a raw API, else `default`."""
    api_id = b.api_id(api_lid)
    key = "RestApiId" if b.entries[api_lid].type == "AWS::ApiGateway::RestApi" else "ApiId"
    for wanted in ("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage", "AWS::ApiGateway::Deployment"):
        for entry in b.entries.values():
            props = entry.resolved if isinstance(entry.resolved, dict) else {}
            if entry.type == wanted and not entry.generated and str(props.get(key)) == api_id and \
                    isinstance(props.get("StageName"), str) and props["StageName"]:
                return str(props["StageName"])
    return default


def implicit_rest_api(b: Pipeline) -> None:
    """SAM's ServerlessRestApi, made for `Api` events without a RestApiId."""
    if "ServerlessRestApi" in b.entries and b.entries["ServerlessRestApi"].generated:
        return
    globals_api = plain_dict(plain_dict(b.doc.get("Globals")).get("Api"))
    raw = merge_globals(globals_api, {"StageName": "Prod"}, None)
    b.generate("ServerlessRestApi", "AWS::Serverless::Api", "ServerlessRestApi", raw)
    b.generate(f"ServerlessRestApiDeployment{hex_of(b.context.stack_name + '/rest', 10)}",
               "AWS::ApiGateway::Deployment", "ServerlessRestApi")
    b.generate("ServerlessRestApiProdStage", "AWS::ApiGateway::Stage", "ServerlessRestApi")


def implicit_http_api(b: Pipeline) -> None:
    """SAM's ServerlessHttpApi, made for `HttpApi` events without an ApiId."""
    if "ServerlessHttpApi" in b.entries and b.entries["ServerlessHttpApi"].generated:
        return
    globals_api = plain_dict(plain_dict(b.doc.get("Globals")).get("HttpApi"))
    raw = merge_globals(globals_api, {}, None)
    b.generate("ServerlessHttpApi", "AWS::Serverless::HttpApi", "ServerlessHttpApi", raw)
    b.generate("ServerlessHttpApiApiGatewayDefaultStage", "AWS::ApiGatewayV2::Stage",
               "ServerlessHttpApi")


class _Api(ResourceType):
    kind = "rest"
    phase = generated_phase = APIS

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return b.api_id(entry.logical_id)

    def raw_default_stage(self) -> str:
        return "Prod" if self.kind == "rest" else "$default"

    def stage(self, asm: Assembly, entry: Entry) -> str:
        return raw_stage(asm.b, entry.logical_id, self.raw_default_stage())

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        _assemble_api(asm, entry, self)


class RestApi(_Api):
    type_name = "AWS::ApiGateway::RestApi"
    attributes = attributes("RootResourceId RestApiId")

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        lid, stack = entry.logical_id, b.context.stack_name
        if attr == "Stage":
            return stage_of(b, lid)
        if attr == "Deployment":
            return model.stable_id(f"{stack}/{lid}Deployment", 6)
        if attr == "RestApiId":
            return b.api_id(lid)
        return model.stable_id(f"{stack}/{lid}/root", 10)


class ServerlessApi(RestApi):
    type_name = "AWS::Serverless::Api"
    schema = API
    globals_section = "Api"
    globals_schema = {"type": "object", "properties": API_COMMON, "additionalProperties": False}
    attributes = attributes("RootResourceId Stage Deployment")

    def stage(self, asm: Assembly, entry: Entry) -> str:
        return stage_of(asm.b, entry.logical_id)

    def expand(self, b: Pipeline, entry: Entry) -> None:
        stage = entry.raw.get("StageName")
        stage = stage if isinstance(stage, str) else "Stage"
        b.generate(f"{entry.logical_id}Deployment{hex_of(entry.logical_id, 10)}",
                   "AWS::ApiGateway::Deployment", entry.logical_id)
        b.generate(f"{entry.logical_id}{alnum(stage)}Stage", "AWS::ApiGateway::Stage", entry.logical_id)


class HttpApi(_Api):
    type_name = "AWS::ApiGatewayV2::Api"
    kind = "http"
    attributes = attributes("ApiEndpoint ApiId")

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        lid = entry.logical_id
        if attr == "Stage":
            return stage_of(b, lid)
        api_id = b.api_id(lid)
        return api_id if attr == "ApiId" else f"https://{api_id}.execute-api.{b.context.region}.amazonaws.com"


class ServerlessHttpApi(HttpApi):
    type_name = "AWS::Serverless::HttpApi"
    schema = HTTP_API
    globals_section = "HttpApi"
    globals_schema = {"type": "object", "properties": HTTP_API_COMMON, "additionalProperties": False}
    attributes = attributes("ApiEndpoint ApiId Stage")

    def stage(self, asm: Assembly, entry: Entry) -> str:
        return stage_of(asm.b, entry.logical_id)

    def expand(self, b: Pipeline, entry: Entry) -> None:
        stage = entry.raw.get("StageName", "$default")
        suffix = "ApiGatewayDefaultStage" if stage == "$default" else f"{alnum(str(stage))}Stage"
        b.generate(f"{entry.logical_id}{suffix}", "AWS::ApiGatewayV2::Stage", entry.logical_id)


# ---------------------------------------------------------------------- the model.Api

def _assemble_api(asm: Assembly, entry: Entry, handler: _Api) -> None:
    lid, kind = entry.logical_id, handler.kind
    b = asm.b
    if entry.generated:
        # The implicit API's properties are the Globals only; resolve them now.
        entry.resolved = b.resolver("Globals", "Globals", ()).resolve(entry.raw)
    props = entry.resolved or {}
    auth = as_dict(props.get("Auth"))
    report = asm.report(lid)
    authorizers = _authorizers(asm, lid, kind, auth)
    default = auth.get("DefaultAuthorizer")
    if isinstance(default, str) and default not in authorizers and default != "AWS_IAM":
        report(("Auth", "DefaultAuthorizer"), f"DefaultAuthorizer '{default}' is not one of "
               f"Auth.Authorizers ({', '.join(authorizers) or 'none defined'})", "error")
    api_key = as_bool(auth.get("ApiKeyRequired"))
    routes = []
    seen: dict[tuple[str, str], str] = {}
    for route in asm.routes.get(lid, []) + _definition_routes(asm, lid, kind, props):
        name = route.authorizer
        if name == "":
            name = default if isinstance(default, str) else None
        elif name == "NONE":
            name = None
        if name is not None and name not in authorizers and name != "AWS_IAM":
            asm.report(route.function, ("Properties", "Events", route.event_name, "Properties"))(
                ("Auth", "Authorizer"), f"authorizer '{name}' is not defined in {lid}'s "
                "Auth.Authorizers", "error")
        key = (route.method, route.path)
        if key in seen:
            asm.report(route.function, ("Properties", "Events", route.event_name))(
                (), f"route {route.method} {route.path} of {lid} is already defined by "
                f"{seen[key]}", "error")
            continue
        seen[key] = f"{route.function}.Events.{route.event_name}"
        required = api_key if route.api_key_required is None else route.api_key_required
        routes.append(model.Route(route.method, route.path, route.function, route.event_name,
                                  route.payload_format, bool(required), name, route.timeout_ms))
    cors: model.Cors | None
    if kind == "rest":
        cors = _cors_rest(props.get("Cors"))
        stage = handler.stage(asm, entry)
        variables = as_dict(props.get("Variables"))
    else:
        cors_config = props.get("CorsConfiguration")
        if cors_config is True or cors_config == "true":
            cors = model.Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
        elif isinstance(cors_config, dict):
            cors = cors_v2(cors_config)
        else:
            cors = None
        stage = handler.stage(asm, entry)
        variables = as_dict(props.get("StageVariables"))
    asm.apis[lid] = model.Api(
        logical_id=lid, kind=kind, api_id=b.api_id(lid), stage_name=stage, routes=tuple(routes),
        cors=cors, authorizers=authorizers, api_key_required=api_key,
        binary_media_types=strs(props.get("BinaryMediaTypes")),
        stage_variables={str(k): str(v) for k, v in variables.items()})
    if entry.generated:
        asm.generated_props[lid] = {"StageName": stage, "Routes": [
            f"{r.method} {r.path}" for r in routes]}
    for other, gen in b.entries.items():
        if gen.generated and gen.source == lid:
            asm.generated_props[other] = {"RestApiId" if kind == "rest" else "ApiId": b.api_id(lid),
                                          "StageName": stage}


_INTEGRATION_URI = re.compile(r"functions/(.+?)/invocations")


def _definition_routes(asm: Assembly, lid: str, kind: str, props: Mapping[str, Any]) -> list[model.Route]:
    """Lambda proxy integrations declared in an OpenAPI DefinitionBody (not via events)."""
    paths = as_dict(as_dict(props.get("DefinitionBody")).get("paths"))
    taken = {(r.method, r.path) for r in asm.routes.get(lid, [])}
    out = []
    for path, methods in paths.items():
        for method, operation in as_dict(methods).items():
            integration = as_dict(as_dict(operation).get("x-amazon-apigateway-integration"))
            uri = integration.get("uri")
            match = _INTEGRATION_URI.search(uri) if isinstance(uri, str) else None
            if not match or str(integration.get("type", "")).lower() != "aws_proxy":
                continue
            function = asm.function_by_ref(match.group(1))
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else str(method).upper()
            if function is None or (verb, path) in taken:
                continue
            taken.add((verb, path))
            payload = "1.0" if kind == "rest" else (
                "1.0" if str(integration.get("payloadFormatVersion", "2.0")) == "1.0" else "2.0")
            out.append(model.Route(
                method=verb, path=str(path), function=function, event_name="DefinitionBody",
                payload_format=payload, api_key_required=None,  # type: ignore[arg-type]
                authorizer="", timeout_ms=REST_TIMEOUT_MS if kind == "rest" else _int(
                    integration.get("timeoutInMillis"), HTTP_TIMEOUT_MS)))
    return out


def _cors_rest(value: Any) -> model.Cors | None:
    if value is None:
        return None
    if isinstance(value, str):
        return model.Cors(allow_origins=_unquote(value))
    cors = as_dict(value)
    return model.Cors(
        allow_origins=_unquote(cors.get("AllowOrigin")), allow_methods=_unquote(cors.get("AllowMethods")),
        allow_headers=_unquote(cors.get("AllowHeaders")),
        expose_headers=_unquote(cors.get("ExposeHeaders")),
        allow_credentials=as_bool(cors.get("AllowCredentials")),
        max_age=as_int(_unquote(cors.get("MaxAge"))[0]) if _unquote(cors.get("MaxAge")) else
        as_int(cors.get("MaxAge")))


def _authorizers(asm: Assembly, lid: str, kind: str, auth: Mapping[str, Any]) -> dict[str, model.Authorizer]:
    out: dict[str, model.Authorizer] = {}
    for name, spec in as_dict(auth.get("Authorizers")).items():
        spec = as_dict(spec)
        identity = as_dict(spec.get("Identity"))
        arn = spec.get("FunctionArn")
        if arn is None:
            kind_name = "JWT" if "JwtConfiguration" in spec else "COGNITO_USER_POOLS"
            asm.b.problems.warning("Resources", lid, ("Properties", "Auth", "Authorizers", name),
                                   f"{kind_name} authorizer '{name}' is not enforced by samlite")
            out[name] = model.Authorizer(name=name, function_arn="", function=None, type=kind_name)
            continue
        function = asm.function_by_ref(arn)
        headers = strs(identity.get("Headers"))
        queries = strs(identity.get("QueryStrings"))
        sources = tuple(f"header:{h}" for h in headers) + tuple(f"query:{q}" for q in queries)
        ttl = _int(identity.get("ReauthorizeEvery"), 300 if kind == "rest" else 0)
        if kind == "rest":
            payload_type = str(spec.get("FunctionPayloadType", "TOKEN"))
            header = str(identity.get("Header", "Authorization"))
            if payload_type == "TOKEN":
                sources = (f"header:{header}",)
            out[name] = model.Authorizer(
                name=name, function_arn=str(arn), function=function, type=payload_type,
                identity_header=header, identity_sources=sources,
                validation_expression=identity.get("ValidationExpression"), ttl_seconds=ttl)
        else:
            out[name] = model.Authorizer(
                name=name, function_arn=str(arn), function=function, type="REQUEST",
                identity_header=headers[0] if headers else "Authorization",
                identity_sources=sources or ("header:Authorization",), ttl_seconds=ttl,
                payload_format=str(spec.get("AuthorizerPayloadFormatVersion", "2.0")),
                simple_responses=as_bool(spec.get("EnableSimpleResponses")))
    return out


register(ServerlessApi())
register(RestApi())
register(ServerlessHttpApi())
register(HttpApi())
