"""Intrinsic functions: one resolver per function, one tree walk.

`Resolver.resolve(value, path)` returns `value` with every `Ref`/`Fn::*` replaced by its result.
What a name refers to (parameters, pseudo parameters, resources and their attributes, mappings,
conditions, exports) comes from a `Scope` the caller supplies, so the same walk serves
`validate` (problems collected, placeholders returned) and `load_stack` (problems are fatal).
`AWS::NoValue` removes the property or list item it appears in.
"""

from __future__ import annotations

import base64
import difflib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

PSEUDO_PARAMETERS = ("AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::StackId",
                     "AWS::Partition", "AWS::URLSuffix", "AWS::NotificationARNs", "AWS::NoValue")

Path = tuple[Any, ...]
ErrorSink = Callable[[Path, str, str], None]  # (path, message, severity)


class IntrinsicError(Exception):
    """Raised inside the walk; caught at the intrinsic that caused it and reported once."""


@dataclass
class Scope:
    """Everything names resolve against. `ref`/`getatt` answer for resources (None = unknown)."""

    parameters: Mapping[str, Any]
    pseudo: Mapping[str, Any]
    resource_ids: Callable[[], list[str]]
    ref: Callable[[str], Any]  # logical id -> Ref value, or raises IntrinsicError
    getatt: Callable[[str, str], Any]  # (logical id, attribute) -> value, or raises IntrinsicError
    mappings: Mapping[str, Any] = field(default_factory=dict)
    condition: Callable[[str], bool] = lambda name: True
    condition_names: Callable[[], list[str]] = lambda: []
    exports: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    # Missing export: "error" (load_stack) or "warning" (validate; other stacks are unknown offline).
    missing_export: str = "error"
    imports: list[str] = field(default_factory=list)
    # Resources dropped because their Condition is false: logical id -> condition name.
    absent: Mapping[str, str] = field(default_factory=dict)


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::"))


# ---------------------------------------------------------------------------------- Fn::Sub parse

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def parse_sub(template: str) -> list[str | tuple[str]]:
    """Split a Fn::Sub string into literal text (str) and variables (1-tuples of the name).

    `${!Name}` is the literal `${Name}`; a `$` not followed by `{` is literal.
    """
    parts: list[str | tuple[str]] = []
    literal: list[str] = []
    pos = 0
    for match in _SUB_VAR.finditer(template):
        literal.append(template[pos:match.start()])
        name = match.group(1)
        if name.startswith("!"):
            literal.append("${" + name[1:] + "}")
        else:
            if literal and "".join(literal):
                parts.append("".join(literal))
            literal = []
            parts.append((name.strip(),))
        pos = match.end()
    literal.append(template[pos:])
    if "".join(literal):
        parts.append("".join(literal))
    return parts


def sub_variables(template: str) -> list[str]:
    return [p[0] for p in parse_sub(template) if isinstance(p, tuple)]


# ------------------------------------------------------------------------------------- references

def references(value: Any) -> Iterator[str]:
    """Every logical name a value refers to (Ref, GetAtt, Sub), without resolving anything."""
    if isinstance(value, dict):
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if key == "Ref" and isinstance(arg, str):
                yield arg.split(".")[0]
                return
            if key == "Fn::GetAtt":
                if isinstance(arg, list) and arg and isinstance(arg[0], str):
                    yield arg[0]
                elif isinstance(arg, str):
                    yield arg.split(".")[0]
                return
            if key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) and arg else arg
                local = arg[1] if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict) else {}
                if isinstance(text, str):
                    for name in sub_variables(text):
                        if name not in local:
                            yield name.split(".")[0]
                if local:
                    yield from references(local)
                return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


# --------------------------------------------------------------------------------------- resolver

class Resolver:
    """Walks a value and resolves intrinsics against a Scope, reporting problems to a sink."""

    def __init__(self, scope: Scope, sink: ErrorSink) -> None:
        self.scope = scope
        self.sink = sink
        self._handlers: dict[str, Callable[[Any, Path], Any]] = {
            "Ref": self._ref, "Fn::GetAtt": self._getatt, "Fn::Sub": self._sub,
            "Fn::Join": self._join, "Fn::Select": self._select, "Fn::Split": self._split,
            "Fn::If": self._if, "Fn::Equals": self._equals, "Fn::Not": self._not,
            "Fn::And": self._and, "Fn::Or": self._or, "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": self._base64, "Fn::Cidr": self._cidr, "Fn::GetAZs": self._get_azs,
            "Fn::ImportValue": self._import_value, "Fn::Transform": self._transform,
            "Fn::ToJsonString": self._to_json_string, "Fn::Length": self._length,
        }

    # --- walk

    def resolve(self, value: Any, path: Path = ()) -> Any:
        if isinstance(value, dict):
            if is_intrinsic(value):
                key, arg = next(iter(value.items()))
                handler = self._handlers.get(key)
                if handler is None:
                    close = difflib.get_close_matches(key, list(self._handlers), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    self.sink(path, f"unknown intrinsic function '{key}'{hint}", "error")
                    return None
                try:
                    return handler(arg, path + (key,))
                except IntrinsicError as exc:
                    self.sink(path + (key,), str(exc), "error")
                    return None
            out = {}
            for k, v in value.items():
                resolved = self.resolve(v, path + (k,))
                if resolved is not NO_VALUE:
                    out[k] = resolved
            return out
        if isinstance(value, list):
            items = [self.resolve(v, path + (i,)) for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        return value

    def _string(self, value: Any, path: Path, what: str) -> str:
        resolved = self.resolve(value, path)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, (int, float)):
            return str(resolved)
        if resolved is None:
            return ""
        if not isinstance(resolved, str):
            raise IntrinsicError(f"{what} must be a string, not {type(resolved).__name__}")
        return resolved

    def _list(self, value: Any, path: Path, what: str) -> list[Any]:
        resolved = self.resolve(value, path)
        if resolved is None:
            return []
        if not isinstance(resolved, list):
            raise IntrinsicError(f"{what} must be a list, not {type(resolved).__name__}")
        return resolved

    @staticmethod
    def _args(arg: Any, name: str, counts: tuple[int, ...]) -> list[Any]:
        if not isinstance(arg, list) or len(arg) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise IntrinsicError(f"{name} takes a list of {want} items")
        return arg

    # --- Ref and friends

    def _ref(self, arg: Any, path: Path) -> Any:
        if not isinstance(arg, str):
            raise IntrinsicError("Ref takes a logical name (a string)")
        return self.lookup(arg)

    def lookup(self, name: str) -> Any:
        scope = self.scope
        if name in scope.parameters:
            return scope.parameters[name]
        if name in scope.pseudo:
            return scope.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in scope.resource_ids():
            return scope.ref(name)
        head, dot, tail = name.partition(".")
        if dot and head in scope.resource_ids():
            # SAM: `!Ref MyApi.Stage`, `!Ref MyFunction.Alias`.
            return scope.getatt(head, tail)
        raise IntrinsicError(self._unknown(name, "Ref"))

    def _unknown(self, name: str, what: str) -> str:
        base = name.split(".")[0]
        if base in self.scope.absent:
            return (f"{what} to '{base}', which does not exist because its condition "
                    f"'{self.scope.absent[base]}' is false")
        known = [*self.scope.parameters, *self.scope.resource_ids(), *PSEUDO_PARAMETERS]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{what} to '{name}', which is not a parameter, pseudo parameter or resource{hint}"

    def _getatt(self, arg: Any, path: Path) -> Any:
        if isinstance(arg, str):
            head, _, tail = arg.partition(".")
            arg = [head, tail]
        if not isinstance(arg, list) or len(arg) != 2:
            raise IntrinsicError("Fn::GetAtt takes [LogicalId, Attribute] or 'LogicalId.Attribute'")
        lid = arg[0]
        attr = self._string(arg[1], path + (1,), "Fn::GetAtt attribute")
        if not isinstance(lid, str):
            raise IntrinsicError("Fn::GetAtt's logical id must be a string")
        if lid not in self.scope.resource_ids():
            if lid in self.scope.absent:
                raise IntrinsicError(self._unknown(lid, "Fn::GetAtt"))
            known = self.scope.resource_ids()
            close = difflib.get_close_matches(lid, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise IntrinsicError(f"Fn::GetAtt of unknown resource '{lid}'{hint}")
        return self.scope.getatt(lid, attr)

    def _sub(self, arg: Any, path: Path) -> str:
        local: dict[str, Any] = {}
        if isinstance(arg, list):
            self._args(arg, "Fn::Sub", (1, 2))
            text = arg[0]
            if len(arg) == 2:
                if not isinstance(arg[1], dict):
                    raise IntrinsicError("Fn::Sub's variable map must be a mapping")
                local = {k: self.resolve(v, path + (1, k)) for k, v in arg[1].items()}
        else:
            text = arg
        if not isinstance(text, str):
            raise IntrinsicError("Fn::Sub takes a string or [string, {variables}]")
        out: list[str] = []
        for part in parse_sub(text):
            if isinstance(part, str):
                out.append(part)
                continue
            name = part[0]
            if name in local:
                value = local[name]
            elif "." in name and not name.startswith("AWS::") and name not in self.scope.parameters:
                lid, _, attr = name.partition(".")
                if lid not in self.scope.resource_ids():
                    raise IntrinsicError(f"Fn::Sub variable '${{{name}}}' names unknown resource '{lid}'")
                value = self.scope.getatt(lid, attr)
            else:
                try:
                    value = self.lookup(name)
                except IntrinsicError:
                    raise IntrinsicError(self._unknown(name, f"Fn::Sub variable '${{{name}}}' refers")) from None
            if isinstance(value, list):
                raise IntrinsicError(f"Fn::Sub variable '${{{name}}}' is a list, not a string")
            if isinstance(value, bool):
                value = "true" if value else "false"
            out.append("" if value is None or value is NO_VALUE else str(value))
        return "".join(out)

    def _join(self, arg: Any, path: Path) -> str:
        delim, items = self._args(arg, "Fn::Join", (2,))
        if not isinstance(delim, str):
            raise IntrinsicError("Fn::Join's delimiter must be a string")
        values = self._list(items, path + (1,), "Fn::Join's second argument")
        strings = []
        for value in values:
            if isinstance(value, (list, dict)):
                raise IntrinsicError("Fn::Join's list items must be strings")
            strings.append(self._string(value, path, "Fn::Join item"))
        return delim.join(strings)

    def _select(self, arg: Any, path: Path) -> Any:
        index, items = self._args(arg, "Fn::Select", (2,))
        index_value = self.resolve(index, path + (0,))
        try:
            position = int(index_value)
        except (TypeError, ValueError):
            raise IntrinsicError(f"Fn::Select index must be a number, not {index_value!r}") from None
        values = self._list(items, path + (1,), "Fn::Select's second argument")
        if not 0 <= position < len(values):
            raise IntrinsicError(f"Fn::Select index {position} is out of range for a list of "
                                 f"{len(values)} items")
        return values[position]

    def _split(self, arg: Any, path: Path) -> list[str]:
        delim, text = self._args(arg, "Fn::Split", (2,))
        if not isinstance(delim, str) or not delim:
            raise IntrinsicError("Fn::Split's delimiter must be a non-empty string")
        return self._string(text, path + (1,), "Fn::Split's source").split(delim)

    # --- conditions

    def _if(self, arg: Any, path: Path) -> Any:
        name, when_true, when_false = self._args(arg, "Fn::If", (3,))
        if not isinstance(name, str):
            raise IntrinsicError("Fn::If's first item must be a condition name")
        chosen = self.condition(name)
        # Only the chosen branch is resolved: the other may name an absent resource.
        return self.resolve(when_true if chosen else when_false, path + (1 if chosen else 2,))

    def condition(self, name: str) -> bool:
        if name not in self.scope.condition_names():
            close = difflib.get_close_matches(name, self.scope.condition_names(), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise IntrinsicError(f"unknown condition '{name}'{hint}")
        return self.scope.condition(name)

    def evaluate_condition(self, value: Any, path: Path) -> bool:
        """A condition expression: Fn::Equals/Not/And/Or/{Condition: X}, or a literal bool."""
        if isinstance(value, dict) and len(value) == 1 and "Condition" in value:
            target = value["Condition"]
            if not isinstance(target, str):
                raise IntrinsicError("Condition takes a condition name")
            return self.condition(target)
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in (
                "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            key, arg = next(iter(value.items()))
            return bool(self._handlers[key](arg, path + (key,)))
        resolved = self.resolve(value, path)
        if isinstance(resolved, bool):
            return resolved
        if isinstance(resolved, str) and resolved.lower() in ("true", "false"):
            return resolved.lower() == "true"
        raise IntrinsicError("a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or "
                             "{Condition: Name}")

    def _equals(self, arg: Any, path: Path) -> bool:
        a, b = self._args(arg, "Fn::Equals", (2,))
        return _normal(self.resolve(a, path + (0,))) == _normal(self.resolve(b, path + (1,)))

    def _not(self, arg: Any, path: Path) -> bool:
        (inner,) = self._args(arg, "Fn::Not", (1,))
        return not self.evaluate_condition(inner, path + (0,))

    def _and(self, arg: Any, path: Path) -> bool:
        items = self._args(arg, "Fn::And", tuple(range(2, 11)))
        return all(self.evaluate_condition(c, path + (i,)) for i, c in enumerate(items))

    def _or(self, arg: Any, path: Path) -> bool:
        items = self._args(arg, "Fn::Or", tuple(range(2, 11)))
        return any(self.evaluate_condition(c, path + (i,)) for i, c in enumerate(items))

    # --- the rest

    def _find_in_map(self, arg: Any, path: Path) -> Any:
        items = self._args(arg, "Fn::FindInMap", (3, 4))
        keys = [self._string(k, path + (i,), "Fn::FindInMap key") for i, k in enumerate(items[:3])]
        default = items[3].get("DefaultValue", NO_VALUE) if len(items) == 4 and isinstance(items[3], dict) else NO_VALUE
        node: Any = self.scope.mappings
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                if default is not NO_VALUE:
                    return self.resolve(default, path + (3,))
                what = ["mapping", "top-level key", "second-level key"][depth]
                raise IntrinsicError(f"Fn::FindInMap: {what} '{key}' not found"
                                     + (f" in mapping '{keys[0]}'" if depth else ""))
            node = node[key]
        return node

    def _base64(self, arg: Any, path: Path) -> str:
        text = self._string(arg, path, "Fn::Base64's argument")
        return base64.b64encode(text.encode()).decode()

    def _cidr(self, arg: Any, path: Path) -> list[str]:
        block, count, bits = self._args(arg, "Fn::Cidr", (3,))
        try:
            network = ipaddress.ip_network(self._string(block, path + (0,), "Fn::Cidr block"),
                                           strict=False)
            count_n = int(self.resolve(count, path + (1,)))
            bits_n = int(self.resolve(bits, path + (2,)))
            prefix = network.max_prefixlen - bits_n
            subnets = network.subnets(new_prefix=prefix)
            result = []
            for _ in range(count_n):
                result.append(str(next(subnets)))
            return result
        except (ValueError, TypeError, StopIteration) as exc:
            raise IntrinsicError(f"Fn::Cidr: {exc or 'not enough addresses for that many subnets'}") from None

    def _get_azs(self, arg: Any, path: Path) -> list[str]:
        region = self._string(arg, path, "Fn::GetAZs region") or self.scope.region
        letters = "abcdef" if region == "us-east-1" else "abc"
        return [f"{region}{letter}" for letter in letters]

    def _import_value(self, arg: Any, path: Path) -> str:
        name = self._string(arg, path, "Fn::ImportValue's export name")
        if name not in self.scope.imports:
            self.scope.imports.append(name)
        if name in self.scope.exports:
            return self.scope.exports[name]
        self.sink(path, f"no stack exports '{name}'", self.scope.missing_export)
        return f"imported:{name}"

    def _transform(self, arg: Any, path: Path) -> Any:
        self.sink(path, "Fn::Transform (macros such as AWS::Include) is not supported offline; "
                  "the value is left out", "warning")
        return NO_VALUE

    def _to_json_string(self, arg: Any, path: Path) -> str:
        return json.dumps(self.resolve(arg, path), separators=(",", ":"))

    def _length(self, arg: Any, path: Path) -> int:
        return len(self._list(arg, path, "Fn::Length's argument"))


def _normal(value: Any) -> Any:
    """Fn::Equals compares strings: parameters are strings, so 1 equals "1"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value
