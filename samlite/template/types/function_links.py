"""Resources that hang off a function and have no model object of their own:
AWS::Lambda::Permission and AWS::Lambda::EventInvokeConfig (recorded; the function's model
carries what they configure), and AWS::Lambda::Version and AWS::Lambda::Alias (not emulated:
samlite runs $LATEST). Their physical id is their name, as CloudFormation lists them."""

from __future__ import annotations

from samlite.template.types.base import Entry, Pipeline, ResourceType
from samlite.template.types.registry import register


class FunctionLink(ResourceType):
    def __init__(self, type_name: str, emulated: bool = True) -> None:
        self.type_name = type_name
        self.emulated = emulated

    def physical_id(self, b: Pipeline, entry: Entry) -> str:
        return b.physical_name(entry.logical_id)


register(FunctionLink("AWS::Lambda::Permission"))
register(FunctionLink("AWS::Lambda::EventInvokeConfig"))
register(FunctionLink("AWS::Lambda::Version", emulated=False))
register(FunctionLink("AWS::Lambda::Alias", emulated=False))
