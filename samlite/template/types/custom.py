"""Lambda-backed custom resources (AWS::CloudFormation::CustomResource and Custom::*) in templates.

Their Ref (the PhysicalResourceId) and GetAtt (a key of the response's Data) are only known once
the engine has run the function at deploy time, so here they resolve to tokens that the engine
replaces with the answers (samlite.services.cloudformation.custom_resources).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from samlite.template.types.base import Entry, Pipeline, ResourceType
from samlite.template.types.registry import register

TOKEN = re.compile(r"\{\{samlite-custom:([A-Za-z0-9]+)(?:\.([A-Za-z0-9_.\-]+))?\}\}")


def is_custom(rtype: str) -> bool:
    return rtype == "AWS::CloudFormation::CustomResource" or rtype.startswith("Custom::")


def token(lid: str, attr: str | None = None) -> str:
    return "{{samlite-custom:" + lid + (f".{attr}" if attr else "") + "}}"


FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def served_by_stack(props: Mapping[str, Any], entries: Mapping[str, Any]) -> bool:
    """Whether ServiceToken is `!GetAtt Fn.Arn` (or `!Ref`, `!Sub ${Fn.Arn}`) of a function here."""
    token_value = props.get("ServiceToken")
    names: list[str] = []
    if isinstance(token_value, dict) and len(token_value) == 1:
        (key, value), = token_value.items()
        if key == "Fn::GetAtt":
            names.append(value.split(".")[0] if isinstance(value, str) else str(value[0]))
        elif key == "Ref" and isinstance(value, str):
            names.append(value)
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else str(value[0])
            names += [m.split(".")[0] for m in re.findall(r"\$\{([^}]+)\}", text)]
    return any(getattr(entries.get(n), "type", None) in FUNCTION_TYPES for n in names)


class CustomResource(ResourceType):
    """`Custom::*`: Ref and GetAtt are tokens the engine fills in at deploy, once the ServiceToken
    function has answered; a ServiceToken that is no function of this stack is not emulated."""

    type_name = "Custom::*"

    def claims(self, type_name: str) -> bool:
        return type_name.startswith("Custom::")

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        if entry.emulated:
            return token(entry.logical_id)  # the PhysicalResourceId its function answers at deploy
        return super().ref(b, entry)

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        if entry.emulated:
            return token(entry.logical_id, attr)  # a key of the Data its function answers at deploy
        return super().get_att(b, entry, attr)

    def expand(self, b: Pipeline, entry: Entry) -> None:
        if not served_by_stack(entry.raw, b.entries):
            entry.emulated = False
            b.warn_not_emulated(entry.logical_id, f"{entry.type} is not emulated by samlite: its "
                                "ServiceToken is not a function of this stack; it is skipped "
                                "(references to it resolve to placeholder values)")


class CloudFormationCustomResource(CustomResource):
    """The generic AWS::CloudFormation::CustomResource name: the same custom resource as a
    `Custom::*` name (CloudFormation sends this name as the request's ResourceType)."""

    type_name = "AWS::CloudFormation::CustomResource"


register(CustomResource(), family=True)
register(CloudFormationCustomResource())
