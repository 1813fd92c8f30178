"""Lambda-backed custom resources (AWS::CloudFormation::CustomResource and Custom::*) in templates.

Their Ref (the PhysicalResourceId) and GetAtt (a key of the response's Data) are only known once
the engine has run the function at deploy time, so here they resolve to tokens that the engine
replaces with the answers (samlite.services.cloudformation.custom_resources).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

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
