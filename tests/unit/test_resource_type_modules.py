"""A resource type is one module: everything the template layer knows of a type is its handler.

The throwaway `AWS::Samlite::Widget` below is declared and registered in this test module alone,
and is then checked by its schema fragment and its checks, named by its physical-name rule,
resolved by its Ref and GetAtt, expanded, assembled and listed, without any other module
knowing about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from samlite.template import load_stack, validate_template
from samlite.template.model import Context
from samlite.template.schema_parts import INT, STR, obj
from samlite.template.types import registry
from samlite.template.types.base import APIS, Assembly, Entry, Pipeline, ResourceType, attributes
from samlite.template.validate import as_int

HEAD = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"


class Widget(ResourceType):
    type_name = "AWS::Samlite::Widget"
    schema = obj({"WidgetName": STR, "Size": INT})
    name_property = "WidgetName"
    attributes = attributes("Arn Size")
    phase = APIS + 1  # after everything built in

    def __init__(self) -> None:
        self.assembled: dict[str, dict[str, Any]] = {}

    def default_name(self, b: Pipeline, entry: Entry) -> str:
        return f"widget-{entry.logical_id.lower()}"

    def ref(self, b: Pipeline, entry: Entry) -> Any:
        return f"wid-{b.physical_name(entry.logical_id)}"

    def get_att(self, b: Pipeline, entry: Entry, attr: str) -> Any:
        if attr == "Size":
            return b.resolve_property(entry.logical_id, "Size")
        return f"arn:aws:widgets:{b.context.region}:{b.context.account_id}:widget/{b.physical_name(entry.logical_id)}"

    def expand(self, b: Pipeline, entry: Entry) -> None:
        b.generate(f"{entry.logical_id}Role", "AWS::IAM::Role", entry.logical_id)

    def check(self, asm: Assembly, entry: Entry) -> None:
        size = as_int((entry.resolved or {}).get("Size"))
        if size is not None and size > 10:
            asm.report(entry.logical_id)(("Size",), f"{size} is out of range: a widget is at most 10", "error")

    def assemble(self, asm: Assembly, entry: Entry) -> None:
        # Built last: the function that uses the widget is already in the model.
        ref = asm.b.ref_value(entry.logical_id)
        users = [f.logical_id for f in asm.functions.values() if ref in f.environment.values()]
        self.assembled[entry.logical_id] = {"props": dict(entry.resolved or {}), "users": users}


@pytest.fixture
def widget() -> Iterator[Widget]:
    handler = Widget()
    registry.register(handler)
    try:
        yield handler
    finally:
        registry.unregister(handler)


def template(tmp_path: Path, widget_props: str, env: str) -> Path:
    """A Widget `Gadget` with these properties and a function with these environment variables."""
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    lines = ["Resources:", "  Gadget:", "    Type: AWS::Samlite::Widget", "    Properties:"]
    lines += [f"      {line}" for line in widget_props.splitlines()]
    lines += ["  Fn:", "    Type: AWS::Serverless::Function", "    Properties:", "      Runtime: python3.12",
              "      Handler: app.handler", "      CodeUri: src", "      Environment:", "        Variables:"]
    lines += [f"          {line}" for line in env.splitlines()]
    path = tmp_path / "template.yaml"
    path.write_text(HEAD + "\n".join(lines) + "\n")
    return path


def test_a_registered_type_is_resolved_assembled_and_listed(tmp_path: Path, widget: Widget) -> None:
    path = template(tmp_path, "Size: 3\n", "NAME: !Ref Gadget\nARN: !GetAtt Gadget.Arn\nSIZE: !GetAtt Gadget.Size\n")
    assert validate_template(path) == []  # emulated: no "not emulated" warning, no error
    stack = load_stack(path, Context(stack_name="demo", region="eu-west-1", account_id="123456789012"))
    assert stack.functions["Fn"].environment == {
        "NAME": "wid-widget-gadget",
        "ARN": "arn:aws:widgets:eu-west-1:123456789012:widget/widget-gadget",
        "SIZE": "3"}
    assert widget.assembled == {"Gadget": {"props": {"Size": 3}, "users": ["Fn"]}}
    listed = stack.resources["Gadget"]
    assert (listed.type, listed.physical_id, listed.emulated) == ("AWS::Samlite::Widget", "wid-widget-gadget", True)
    assert stack.resources["GadgetRole"].generated  # its expansion
    named = template(tmp_path, "WidgetName: blue\n", "NAME: !Ref Gadget\n")
    assert load_stack(named, Context()).functions["Fn"].environment == {"NAME": "wid-blue"}


def test_a_registered_type_is_validated_by_its_schema_checks_and_attributes(tmp_path: Path, widget: Widget) -> None:
    path = template(tmp_path, "Size: 30\nColour: red\n", "BAD: !GetAtt Gadget.Weight\n")
    messages = [p.message for p in validate_template(path) if p.severity == "error"]
    assert any("unknown property 'Colour'" in m for m in messages), messages
    assert any("30 is out of range: a widget is at most 10" in m for m in messages), messages
    assert any("has no attribute 'Weight' (it has Arn, Size)" in m for m in messages), messages


def test_a_registered_name_is_known_even_next_to_a_published_one(tmp_path: Path) -> None:
    near = Widget()
    near.type_name = "AWS::SQS::Queues"  # one letter from AWS::SQS::Queue: a typo unless registered
    path = template(tmp_path, "Size: 3\n", "NAME: !Ref Gadget\n")
    path.write_text(path.read_text().replace("AWS::Samlite::Widget", near.type_name))
    assert "did you mean 'AWS::SQS::Queue'" in validate_template(path)[0].message
    registry.register(near)
    try:
        assert validate_template(path) == []
    finally:
        registry.unregister(near)


def test_without_its_module_the_type_is_not_emulated(tmp_path: Path) -> None:
    path = template(tmp_path, "Size: 3\n", "NAME: !Ref Gadget\n")
    problems = validate_template(path)
    assert [p.severity for p in problems] == ["warning"]
    assert "AWS::Samlite::Widget is not emulated by samlite" in problems[0].message
    assert "AWS::Samlite::Widget" not in registry.emulated_types()


def test_every_builtin_type_module_registers_its_types() -> None:
    emulated = registry.emulated_types()
    for name in ("AWS::Serverless::Function", "AWS::Lambda::Function", "AWS::SQS::Queue",
                 "AWS::Serverless::Api", "AWS::ApiGatewayV2::Route", "AWS::S3::Bucket", "AWS::EC2::VPC",
                 "AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::Lambda::Url"):
        assert name in emulated, name
    assert registry.handler_for("Custom::Anything").emulated
    assert not registry.handler_for("AWS::Lambda::Version").emulated
    assert registry.handler_for("AWS::Nope::Nothing") is registry.UNKNOWN
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(registry.handler_for("AWS::SQS::Queue"))


def test_the_generic_pipeline_names_no_resource_type() -> None:
    """Type-specific logic lives in `types/`: the resolver, assembler and schema check name no type."""
    import ast
    import re

    import samlite.template

    folder = Path(samlite.template.__file__).parent
    type_name = re.compile(r"(AWS|Custom)::[A-Za-z0-9]+::[A-Za-z0-9]+")
    for module in ("resolve.py", "assemble.py", "schema.py", "pipeline.py", "validate.py"):
        tree = ast.parse((folder / module).read_text())
        named = [node.value for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str) and type_name.fullmatch(node.value)]
        assert named == [], f"{module} names resource types {named}: move that logic to the type's module"
