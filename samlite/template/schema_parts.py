"""Building blocks of the template schema, shared by `schema` and the type modules' fragments.

Any value may be an intrinsic function (`{"Ref": ...}`, `{"Fn::...": ...}`), so typed properties
accept one.
"""

from __future__ import annotations

from typing import Any

INTRINSIC = {"$ref": "#/definitions/intrinsic"}


def typed(*types: str) -> dict[str, Any]:
    """A property of the given JSON types, or an intrinsic function."""
    return {"anyOf": [{"type": list(types) if len(types) > 1 else types[0]}, INTRINSIC]}


STR = typed("string")
INT = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*-?[0-9]+\s*$"}, INTRINSIC]}
BOOL = {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false", "True", "False"]},
                  INTRINSIC]}
OBJ = typed("object")
LIST = typed("array")
ANY: dict[str, Any] = {}
STR_LIST = {"anyOf": [{"type": "array", "items": STR}, INTRINSIC]}


def obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    """An object with these properties (and no others unless `extra`); without required
    properties it may also be an intrinsic."""
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return {"anyOf": [schema, INTRINSIC]} if not required else schema
