"""What an EventBridge target receives: the event, or its Input, InputPath or InputTransformer.

InputTransformer: each `<name>` in InputTemplate is replaced by the value its InputPathsMap path
selects. Inside a JSON string the value goes in as text; outside one it goes in as JSON (a string
gets its quotes). `<aws.events.rule-arn>`, `<aws.events.rule-name>`, `<aws.events.event>` and
`<aws.events.event.json>` are predefined, as on AWS.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MISSING = object()
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str) -> str:
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        value = select(event, str(target["InputPath"]))
        return json.dumps(None if value is _MISSING else value)
    transformer = target.get("InputTransformer")
    if isinstance(transformer, dict) and transformer.get("InputTemplate") is not None:
        return transform(transformer, event, rule_arn, rule_name)
    return json.dumps(event)


def select(document: Any, path: str) -> Any:
    """A JSONPath of the simple kind EventBridge accepts: `$`, `$.a.b`, `$.a[0].b`."""
    if not path.startswith("$"):
        return _MISSING
    value = document
    for name, index in _PATH_PART.findall(path[1:]):
        if name:
            if not isinstance(value, dict) or name not in value:
                return _MISSING
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def transform(transformer: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str) -> str:
    values: dict[str, Any] = {name: select(event, str(path))
                              for name, path in (transformer.get("InputPathsMap") or {}).items()}
    values.setdefault("aws.events.rule-arn", rule_arn)
    values.setdefault("aws.events.rule-name", rule_name)
    values.setdefault("aws.events.event.ingestion-time", event.get("time"))
    values.setdefault("aws.events.event", event)
    values.setdefault("aws.events.event.json", event)
    template = str(transformer["InputTemplate"])
    out: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        if m.group(1) not in values:
            continue  # not a variable: left as written
        out.append(template[pos:m.start()])
        value = values[m.group(1)]
        if _inside_string(template, m.start()):
            if value is _MISSING or value is None:
                text = ""
            elif isinstance(value, str):
                text = json.dumps(value)[1:-1]
            else:
                text = json.dumps(value).replace('"', '\\"') if m.group(1) != "aws.events.event.json" \
                    else json.dumps(value)
            out.append(text)
        else:
            out.append(json.dumps(None if value is _MISSING else value))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out)


def _inside_string(text: str, index: int) -> bool:
    """Whether `index` is inside a double-quoted string of `text` (escapes counted)."""
    inside = False
    escaped = False
    for ch in text[:index]:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            inside = not inside
    return inside
