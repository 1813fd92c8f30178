"""AWS::IAM::Role: recorded (samlite does not enforce IAM); SAM generates one per function."""

from __future__ import annotations

from typing import Any

from samlite.template import model
from samlite.template.types.base import Entry, Pipeline, ResourceType, attributes
from samlite.template.types.registry import register


class Role(ResourceType):
    type_name = "AWS::IAM::Role"
    name_property = "RoleName"
    attributes = attributes("Arn RoleId")

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        ctx = b.context
        if attr == "RoleId":
            return "AROA" + model.stable_id(f"{ctx.stack_name}/{entry.logical_id}", 17,
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return f"arn:aws:iam::{ctx.account_id}:role/{b.physical_name(entry.logical_id)}"


register(Role())
