"""AWS::Lambda::Url: a function URL served on the gateway port (also made by SAM's
FunctionUrlConfig, through `add_url`)."""

from __future__ import annotations

from typing import Any, Mapping

from samlite.template import model
from samlite.template.schema_parts import ANY, OBJ, STR, obj
from samlite.template.types.base import MAPPINGS, Assembly, Entry, Pipeline, ResourceType, as_dict, attributes
from samlite.template.types.registry import register
from samlite.template.validate import as_bool, as_int

SCHEMA = obj({"TargetFunctionArn": ANY, "AuthType": STR, "Cors": OBJ, "InvokeMode": STR,
              "Qualifier": STR}, required=("TargetFunctionArn", "AuthType"))


def strs(value: Any) -> tuple[str, ...]:
    """A list property, or a comma-separated string, as strings."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None)
    return ()


def cors_v2(cors: Mapping[str, Any]) -> model.Cors:
    """CORS as function URLs and HTTP APIs declare it."""
    return model.Cors(
        allow_origins=strs(cors.get("AllowOrigins")), allow_methods=strs(cors.get("AllowMethods")),
        allow_headers=strs(cors.get("AllowHeaders")), expose_headers=strs(cors.get("ExposeHeaders")),
        allow_credentials=as_bool(cors.get("AllowCredentials")),
        max_age=as_int(cors.get("MaxAge")))


def add_url(asm: Assembly, lid: str, function_lid: str, config: Mapping[str, Any]) -> None:
    cors = as_dict(config.get("Cors"))
    asm.urls[lid] = model.FunctionUrl(
        logical_id=lid, function=function_lid, url_id=asm.b.url_id(lid),
        auth_type=str(config.get("AuthType", "NONE")),
        cors=cors_v2(cors) if cors else None,
        invoke_mode=str(config.get("InvokeMode", "BUFFERED")))


class FunctionUrl(ResourceType):
    type_name = "AWS::Lambda::Url"
    schema = SCHEMA
    attributes = attributes("FunctionUrl FunctionArn")
    phase = MAPPINGS

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return b.getatt_value(entry.logical_id, "FunctionArn")

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        ctx = b.context
        lid = entry.logical_id
        if attr == "FunctionUrl":
            return f"https://{b.url_id(lid)}.lambda-url.{ctx.region}.on.aws/"
        target = entry.source if entry.generated else None
        if target:
            return ctx.function_arn(b.physical_name(target))
        return b.resolve_property(lid, "TargetFunctionArn")

    def physical_id(self, b: Pipeline, entry: Entry) -> str:
        return str(b.getatt_value(entry.logical_id, "FunctionUrl"))

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        props = entry.resolved or {}
        function_lid = asm.function_by_ref(props.get("TargetFunctionArn"))
        if function_lid is None:
            asm.report(entry.logical_id)(("TargetFunctionArn",), "TargetFunctionArn is not a "
                                         "function of this stack", "error")
            return
        add_url(asm, entry.logical_id, function_lid, props)


register(FunctionUrl())
