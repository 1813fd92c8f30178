"""JSON Schema of the SAM subset samlite understands, and the check that applies it.

The schema checks shapes (sections, property names and types, event types); ranges and
cross-references are semantic checks (each type module's `check`, shared ones in `validate.py`),
which can name AWS's own limits. Each resource type's Properties schema is the fragment its type
module declares (`types/`); the building blocks are in `schema_parts`.
`samlite validate` must finish a whole process in 300 ms, and importing jsonschema alone costs
50-90 ms; so templates are checked by `MiniValidator`, a small interpreter of exactly the Draft 7
keywords this schema uses. The tests check it against jsonschema's Draft7Validator on every golden,
corpus and fuzzed template (`check_schema(doc, engine="jsonschema")`).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from samlite.template.schema_parts import ANY, BOOL, INT, INTRINSIC, typed
from samlite.template.types.registry import handler_for, handlers

RESOURCE_ATTRIBUTES = {
    "Type": {"type": "string"}, "Properties": {"anyOf": [{"type": "object"}, INTRINSIC]},
    "DependsOn": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "Condition": {"type": "string"}, "Metadata": {"type": "object"},
    "DeletionPolicy": ANY, "UpdateReplacePolicy": ANY, "UpdatePolicy": ANY,
    "CreationPolicy": ANY, "Version": ANY, "IgnoreGlobals": ANY,
    # Not a CloudFormation attribute, but real templates carry it and SAM ignores it.
    "Description": ANY,
}


def resource_properties() -> dict[str, dict[str, Any]]:
    """Each registered type's Properties schema (from its type module)."""
    return {h.type_name: h.schema for h in handlers() if h.schema is not None}


def _resource_schema() -> dict[str, Any]:
    clauses = [{"if": {"properties": {"Type": {"const": name}}},
                "then": {"properties": {"Properties": props}}}
               for name, props in resource_properties().items()]
    return {"type": "object", "required": ["Type"], "properties": RESOURCE_ATTRIBUTES,
            "additionalProperties": False, "allOf": clauses}


# Globals sections SAM accepts that samlite does not merge (no type module declares them).
_OTHER_GLOBALS = ("SimpleTable", "LayerVersion", "StateMachine", "CapacityProvider")
DEFINITIONS: dict[str, Any] = {
    "intrinsic": {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "propertyNames": {"pattern": r"^(Ref|Condition|Fn::[A-Za-z0-9]+)$"},
    },
}


def _globals() -> dict[str, Any]:
    sections: dict[str, Any] = {h.globals_section: h.globals_schema for h in handlers()
                                if h.globals_section and h.globals_schema is not None}
    sections.update({name: {"type": "object"} for name in _OTHER_GLOBALS})
    return {"type": "object", "additionalProperties": False, "properties": sections}


def template_schema() -> dict[str, Any]:
    """The whole template's schema, every registered type's fragment included."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "samlite SAM template subset",
        "definitions": DEFINITIONS,
        "type": "object",
        "required": ["Resources"],
        "additionalProperties": False,
        "properties": {
            "AWSTemplateFormatVersion": {"type": "string", "enum": ["2010-09-09"]},
            "Transform": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}]},
            "Description": {"type": "string"},
            "Metadata": {"type": "object"},
            "Parameters": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["Type"], "additionalProperties": False,
                "properties": {"Type": {"type": "string"}, "Default": ANY,
                               "AllowedValues": {"type": "array"}, "AllowedPattern": {"type": "string"},
                               "MinLength": INT, "MaxLength": INT, "MinValue": typed("number", "string"),
                               "MaxValue": typed("number", "string"), "NoEcho": BOOL,
                               "Description": {"type": "string"},
                               "ConstraintDescription": {"type": "string"}}}},
            "Mappings": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": {"type": "object"}}},
            "Conditions": {"type": "object"},
            "Rules": {"type": "object"},
            "Globals": _globals(),
            "Resources": {"type": "object", "minProperties": 1,
                          "propertyNames": {"pattern": "^[A-Za-z0-9]+$"},
                          "additionalProperties": _resource_schema()},
            "Outputs": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["Value"], "additionalProperties": False,
                "properties": {"Value": ANY, "Description": ANY, "Condition": {"type": "string"},
                               "Export": {"type": "object", "required": ["Name"],
                                          "properties": {"Name": ANY}, "additionalProperties": False}}}},
        },
    }


_validators: dict[tuple[str, str, int], Any] = {}


def _schema_for(key: str) -> dict[str, Any]:
    """The top-level schema ("") or one resource type's Properties schema.

    Checking each resource against its own type's schema (dispatching in Python) is much faster
    than if/then over every type, and gives the same answers as `template_schema()`.
    """
    if key == "":
        top = template_schema()
        resources = dict(top["properties"]["Resources"])
        generic = dict(resources["additionalProperties"])
        generic.pop("allOf")
        resources["additionalProperties"] = generic
        top["properties"]["Resources"] = resources
        return top
    return {"definitions": DEFINITIONS, **resource_properties()[key]}


def _validator(key: str, engine: str = "mini", schema: Any = None) -> Any:
    """Validators are built once per process, engine and schema (a type's fragment)."""
    cache_key = (key, engine, id(schema))
    validator = _validators.get(cache_key)
    if validator is None:
        if engine == "jsonschema":
            from jsonschema import Draft7Validator

            validator = Draft7Validator(_schema_for(key))
        else:
            validator = MiniValidator(_schema_for(key))
        _validators[cache_key] = validator
    return validator


def check_schema(doc: Any, engine: str = "mini") -> Iterator[tuple[tuple[Any, ...], str]]:
    """Yield (path, message) for each schema violation, most specific first per location."""
    for error in _validator("", engine).iter_errors(doc):
        yield from _explain(error)
    resources = doc.get("Resources") if isinstance(doc, dict) else None
    if not isinstance(resources, dict):
        return
    for lid, resource in resources.items():
        rtype = resource.get("Type") if isinstance(resource, dict) else None
        schema = handler_for(rtype).schema if isinstance(rtype, str) else None
        if not isinstance(rtype, str) or schema is None:
            continue
        props = resource.get("Properties", {})
        for error in _validator(rtype, engine, schema).iter_errors(props):
            for path, message in _explain(error):
                yield ("Resources", lid, "Properties") + path, message


class SchemaError:
    """The parts of a jsonschema ValidationError that `_explain` reads."""

    __slots__ = ("validator", "validator_value", "schema", "instance", "absolute_path",
                 "relative_schema_path", "context", "message")

    def __init__(self, validator: str, schema: dict[str, Any], instance: Any, path: tuple[Any, ...],
                 message: str, context: list["SchemaError"] | None = None) -> None:
        self.validator = validator
        self.validator_value = schema.get(validator)
        self.schema = schema
        self.instance = instance
        self.absolute_path = path
        self.relative_schema_path: tuple[Any, ...] = (validator,)
        self.context = context or []
        self.message = message


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


class MiniValidator:
    """Draft 7 semantics for the keywords `template_schema()` uses (and nothing else)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema
        self._patterns: dict[str, re.Pattern[str]] = {}

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        return self._errors(self.root, instance, ())

    def is_valid(self, schema: dict[str, Any], instance: Any) -> bool:
        return next(self._errors(schema, instance, ()), None) is None

    def _pattern(self, pattern: str) -> re.Pattern[str]:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            compiled = self._patterns[pattern] = re.compile(pattern)
        return compiled

    def _errors(self, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if "$ref" in schema:
            # Draft 7: $ref ignores its siblings. Only local definitions are used here.
            name = schema["$ref"].rsplit("/", 1)[-1]
            yield from self._errors(self.root["definitions"][name], instance, path)
            return
        for keyword, value in schema.items():
            check = getattr(self, "_k_" + keyword.replace("$", ""), None)
            if check is not None:
                yield from check(value, schema, instance, path)

    def _k_type(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        names = value if isinstance(value, list) else [value]
        if not any(_TYPES[name](instance) for name in names):
            yield SchemaError("type", schema, instance, path, f"{instance!r} is not of type "
                              + ", ".join(repr(n) for n in names))

    def _k_enum(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if not any(_equal(instance, v) for v in value):
            yield SchemaError("enum", schema, instance, path, f"{instance!r} is not one of {value!r}")

    def _k_const(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if not _equal(instance, value):
            yield SchemaError("const", schema, instance, path, f"{value!r} was expected")

    def _k_pattern(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if isinstance(instance, str) and not self._pattern(value).search(instance):
            yield SchemaError("pattern", schema, instance, path, f"{instance!r} does not match {value!r}")

    def _k_required(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if isinstance(instance, dict):
            for name in value:
                if name not in instance:
                    yield SchemaError("required", schema, instance, path, f"{name!r} is a required property")

    def _k_minProperties(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if isinstance(instance, dict) and len(instance) < value:
            text = "should be non-empty" if value == 1 else "does not have enough properties"
            yield SchemaError("minProperties", schema, instance, path, f"{instance!r} {text}")

    def _k_maxProperties(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if isinstance(instance, dict) and len(instance) > value:
            text = "is expected to be empty" if value == 0 else "has too many properties"
            yield SchemaError("maxProperties", schema, instance, path, f"{instance!r} {text}")

    def _k_properties(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if isinstance(instance, dict):
            for name, sub in value.items():
                if name in instance:
                    yield from self._errors(sub, instance[name], path + (name,))

    def _k_additionalProperties(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if not isinstance(instance, dict):
            return
        known = schema.get("properties", {})
        extras = [k for k in instance if k not in known]
        if value is False:
            if extras:
                yield SchemaError("additionalProperties", schema, instance, path,
                                  "Additional properties are not allowed")
        elif isinstance(value, dict):
            for name in extras:
                yield from self._errors(value, instance[name], path + (name,))

    def _k_propertyNames(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if isinstance(instance, dict):
            for name in instance:
                for error in self._errors(value, name, path):
                    error.relative_schema_path = ("propertyNames",) + error.relative_schema_path
                    yield error

    def _k_items(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if isinstance(instance, list):
            for index, item in enumerate(instance):
                yield from self._errors(value, item, path + (index,))

    def _k_anyOf(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        context: list[SchemaError] = []
        for index, branch in enumerate(value):
            errors = list(self._errors(branch, instance, path))
            if not errors:
                return
            for error in errors:
                error.relative_schema_path = (index,) + error.relative_schema_path
            context.extend(errors)
        yield SchemaError("anyOf", schema, instance, path,
                          f"{instance!r} is not valid under any of the given schemas", context)

    def _k_allOf(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        for branch in value:
            yield from self._errors(branch, instance, path)

    def _k_if(self, value: Any, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]) -> Iterator[SchemaError]:
        if "then" in schema and self.is_valid(value, instance):
            yield from self._errors(schema["then"], instance, path)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _explain(error: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
    path = tuple(error.absolute_path)
    if error.validator == "anyOf" and (error.schema is INT or error.schema is BOOL):
        word = "an integer" if error.schema is INT else "a boolean"
        yield path, f"must be {word}, not {_json_type(error.instance)} {error.instance!r}"[:200]
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        # The branch that is not "an intrinsic" says what was expected.
        branches_schema = error.schema[error.validator]
        specific = [e for e in error.context
                    if branches_schema[e.relative_schema_path[0]] is not INTRINSIC]
        if specific:
            types = sorted({_expected(e) for e in specific if e.validator == "type"} - {""})
            if types and len(types) == len([e for e in specific if e.validator == "type"]):
                yield path, f"must be {' or '.join(types)}, not {_json_type(error.instance)}"
                return
            # Report every failure of the one non-intrinsic branch (e.g. all bad properties).
            branches = {e.relative_schema_path[0] for e in specific if e.relative_schema_path}
            if len(branches) == 1:
                for sub in specific:
                    yield from _explain(sub)
                return
            deepest = max(specific, key=lambda e: len(e.absolute_path))
            yield from _explain(deepest)
            return
    if error.validator == "additionalProperties":
        props = error.schema.get("properties", {})
        extras = [k for k in error.instance if k not in props]
        for key in extras:
            yield path + (key,), _unknown_property(key, list(props))
        return
    if error.validator == "required":
        yield path, error.message.replace("is a required property", "is required")
        return
    if "propertyNames" in error.relative_schema_path and error.validator == "pattern":
        pattern = error.validator_value if error.validator == "pattern" else None
        rule = "letters and digits only" if pattern == "^[A-Za-z0-9]+$" else f"must match {pattern}"
        yield path, f"invalid name {error.instance!r}: {rule}" if pattern else error.message
        return
    if error.validator == "type":
        yield path, f"must be {_expected(error)}, not {_json_type(error.instance)}"
        return
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        yield path, f"{error.instance!r} is not one of {', '.join(map(str, allowed))}"
        return
    yield path, error.message


def _expected(error: Any) -> str:
    value = error.validator_value
    names = value if isinstance(value, list) else [value]
    words = {"object": "a mapping", "array": "a list", "string": "a string",
             "integer": "an integer", "number": "a number", "boolean": "a boolean"}
    return " or ".join(words.get(str(n), str(n)) for n in names)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else type(value).__name__


def _unknown_property(key: Any, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown property '{key}'{hint}"
