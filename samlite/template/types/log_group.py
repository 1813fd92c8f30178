"""AWS::Logs::LogGroup: a log group of samlite's Logs service (its retention is applied)."""

from __future__ import annotations

from typing import Any

from samlite.template.types.base import Entry, Pipeline, ResourceType, attributes, placeholder_attribute
from samlite.template.types.registry import register


class LogGroup(ResourceType):
    type_name = "AWS::Logs::LogGroup"
    name_property = "LogGroupName"
    attributes = attributes("Arn")

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        ctx = b.context
        arn = f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{b.physical_name(entry.logical_id)}:*"
        return placeholder_attribute(b, entry, attr, arn)


register(LogGroup())
