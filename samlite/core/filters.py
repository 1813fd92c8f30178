"""EventBridge-style filter patterns, as Lambda applies them to SQS records (FilterCriteria).

A pattern is a JSON object; each key must be present in the record (unless `exists: false`),
and its value is either a nested object or a list of alternatives (OR). Alternatives are exact
values (string, number, boolean, null) or one-key operators: `prefix`, `suffix`,
`equals-ignore-case`, `anything-but` (a value, a list, or `{"prefix": ...}`), `numeric`
(`[">", 0, "<=", 5]`, `["=", 3]`) and `exists`. A list in the record matches when any element
matches. For SQS the record's `body` is matched as parsed JSON when it is a JSON object; a plain
(non-JSON) body is matched only by value patterns on `body` itself, never by nested ones.
Several filters are ORed. Patterns are validated at deploy time with `compile_patterns`.

EventBridge rules use the same language on whole events (`matches`, `check_pattern`), plus
`$or` (a list of alternative sub-patterns at any level).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

_MISSING = object()
_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr", "wildcard"}
_NUMERIC_OPS = {"<", "<=", "=", ">", ">="}


class PatternError(ValueError):
    """A filter pattern that cannot be used (bad JSON, unknown operator, wrong shape)."""


def compile_patterns(patterns: Iterable[str]) -> list[dict[str, Any]]:
    """Parse and check each pattern string; raise PatternError with the reason."""
    compiled = []
    for text in patterns:
        if len(text) > 4096:
            raise PatternError("a filter pattern may be at most 4096 characters")
        try:
            pattern = json.loads(text)
        except ValueError as exc:
            raise PatternError(f"filter pattern is not valid JSON: {exc}") from None
        check_pattern(pattern)
        compiled.append(pattern)
    return compiled


def check_pattern(pattern: Any) -> None:
    """Raise PatternError when `pattern` (parsed JSON) is not a usable pattern."""
    if not isinstance(pattern, dict):
        raise PatternError("a filter pattern must be a JSON object")
    _check(pattern, "")


def _check(pattern: dict[str, Any], path: str) -> None:
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(p, dict) for p in value):
                raise PatternError(f"$or must be an array of at least two objects at {where}")
            for alternative in value:
                _check(alternative, path)
        elif isinstance(value, dict):
            _check(value, where)
        elif isinstance(value, list):
            for alt in value:
                if isinstance(alt, dict):
                    if len(alt) != 1 or next(iter(alt)) not in _OPERATORS:
                        raise PatternError(f"unsupported operator {json.dumps(alt)} at {where}")
                    op, arg = next(iter(alt.items()))
                    if op == "numeric":
                        _check_numeric(arg, where)
                    if op == "exists" and not isinstance(arg, bool):
                        raise PatternError(f"exists must be true or false at {where}")
                    if op in ("prefix", "suffix", "wildcard", "equals-ignore-case") and \
                            not isinstance(arg, (str, dict)):
                        raise PatternError(f"{op} match pattern must be a string at {where}")
                    if op == "wildcard" and "**" in str(arg):
                        raise PatternError(f"consecutive wildcard characters are not allowed at {where}")
                elif isinstance(alt, list):
                    raise PatternError(f"nested arrays are not allowed at {where}")
        else:
            raise PatternError(f"match values must be in an array at {where}")


def _check_numeric(arg: Any, where: str) -> None:
    if not isinstance(arg, list) or not arg or len(arg) % 2:
        raise PatternError(f"numeric needs operator/value pairs at {where}")
    for i in range(0, len(arg), 2):
        if arg[i] not in _NUMERIC_OPS or isinstance(arg[i + 1], bool) or not isinstance(arg[i + 1], (int, float)):
            raise PatternError(f"bad numeric condition {arg[i]!r} {arg[i + 1]!r} at {where}")


def matches_any(patterns: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """True when no patterns are set or at least one matches the SQS record."""
    if not patterns:
        return True
    view = sqs_view(record)
    return any(matches(p, view) for p in patterns)


def sqs_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as filters see it: `body` parsed when it holds a JSON object or array."""
    body = record.get("body")
    if isinstance(body, str) and body[:1] in ("{", "["):
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's stack
            return record
        return {**record, "body": parsed}
    return record


def matches(pattern: dict[str, Any], event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        value = event.get(key, _MISSING)
        if isinstance(expected, dict):
            # A nested pattern needs a nested object; a plain-string body never matches one.
            if not isinstance(value, dict) or not matches(expected, value):
                return False
        elif not _match_list(expected, value):
            return False
    return True


def _match_list(alternatives: list[Any], value: Any) -> bool:
    for alt in alternatives:
        if isinstance(alt, dict) and "exists" in alt:
            present = value is not _MISSING
            if present == alt["exists"]:
                return True
            continue
        if value is _MISSING:
            continue
        values = value if isinstance(value, list) else [value]
        if any(_match_one(alt, v) for v in values):
            return True
    return False


def _match_one(alt: Any, value: Any) -> bool:
    if not isinstance(alt, dict):
        return _equal(alt, value)
    op, arg = next(iter(alt.items()))
    if op == "prefix":
        if isinstance(arg, dict):  # {"prefix": {"equals-ignore-case": "x"}}
            return isinstance(value, str) and value.lower().startswith(str(arg.get("equals-ignore-case", "")).lower())
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        if isinstance(arg, dict):
            return isinstance(value, str) and value.lower().endswith(str(arg.get("equals-ignore-case", "")).lower())
        return isinstance(value, str) and value.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(value, str) and isinstance(arg, str) and value.lower() == arg.lower()
    if op == "anything-but":
        if isinstance(arg, dict):
            return not any(_match_one({k: v}, value) for k, v in arg.items())
        excluded = arg if isinstance(arg, list) else [arg]
        return not any(_equal(x, value) for x in excluded)
    if op == "numeric":
        number = _number(value)
        if number is None:
            return False
        return all(_compare(number, arg[i], float(arg[i + 1])) for i in range(0, len(arg), 2))
    if op == "wildcard":
        return isinstance(value, str) and _wildcard(str(arg)).fullmatch(value) is not None
    if op == "cidr":
        import ipaddress

        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(arg, strict=False)
        except (ValueError, TypeError):
            return False
    return False


def _wildcard(pattern: str) -> "re.Pattern[str]":
    """AWS wildcards: `*` matches any run of characters, `\\*` a literal star; nothing else is special."""
    parts = re.split(r"(\\\*|\*)", pattern)
    return re.compile("".join(".*" if p == "*" else re.escape("*" if p == "\\*" else p) for p in parts), re.DOTALL)


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return float(expected) == float(value)
    return bool(expected == value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _compare(number: float, op: str, bound: float) -> bool:
    if op == "<":
        return number < bound
    if op == "<=":
        return number <= bound
    if op == "=":
        return number == bound
    if op == ">":
        return number > bound
    return number >= bound
