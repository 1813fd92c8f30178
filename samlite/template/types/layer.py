"""AWS::Serverless::LayerVersion and AWS::Lambda::LayerVersion: layers built and installed with
the stack. One module for both: the SAM type is the Lambda type with a local ContentUri."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samlite.template import model
from samlite.template.schema_parts import LIST, STR, obj, typed
from samlite.template.types.base import LAYERS_AND_QUEUES, Assembly, Entry, Pipeline, ResourceType, attributes
from samlite.template.types.function_url import strs
from samlite.template.types.registry import register

SCHEMA = obj({"ContentUri": typed("string", "object"), "LayerName": STR, "Description": STR,
              "CompatibleRuntimes": LIST, "CompatibleArchitectures": LIST, "LicenseInfo": STR,
              "RetentionPolicy": STR}, required=("ContentUri",))


def build_metadata(entry: Entry) -> dict[str, Any]:
    """SAM's Metadata.BuildMethod and BuildProperties, for the builder."""
    method = entry.metadata.get("BuildMethod")
    props = entry.metadata.get("BuildProperties")
    return {"build_method": method if isinstance(method, str) else None,
            "build_properties": dict(props) if isinstance(props, dict) else {}}


class LambdaLayer(ResourceType):
    type_name = "AWS::Lambda::LayerVersion"
    content_property = "Content"
    name_property = "LayerName"
    attributes = attributes("LayerVersionArn")
    phase = LAYERS_AND_QUEUES

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return b.getatt_value(entry.logical_id, "LayerVersionArn")

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        ctx = b.context
        return f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:layer:{b.physical_name(entry.logical_id)}:1"

    def check(self, asm: Assembly, entry: Entry) -> None:
        path = asm.local_path((entry.resolved or {}).get(self.content_property))
        if path is not None and not Path(path).exists():
            asm.report(entry.logical_id)(("ContentUri",), f"layer content not found: {path}",
                                         "error" if asm.b.check_code else "warning")

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        props = entry.resolved or {}
        path = asm.local_path(props.get(self.content_property))
        lid = entry.logical_id
        asm.layers[lid] = model.Layer(
            logical_id=lid, name=asm.b.physical_name(lid), arn=asm.b.getatt_value(lid, "LayerVersionArn"),
            content_uri=path or "", compatible_runtimes=strs(props.get("CompatibleRuntimes")),
            **build_metadata(entry))


class ServerlessLayer(LambdaLayer):
    type_name = "AWS::Serverless::LayerVersion"
    content_property = "ContentUri"
    schema = SCHEMA


register(ServerlessLayer())
register(LambdaLayer())
