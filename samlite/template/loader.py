"""Read a YAML or JSON template into plain dicts, keeping each node's source line.

CloudFormation short tags (`!Ref`, `!GetAtt`, `!Sub`, ...) become their long forms
(`{"Ref": ...}`, `{"Fn::GetAtt": [...]}`), so later stages see one shape. Mappings and lists are
`LDict`/`LList` (dict/list subclasses) that remember their own line and the line of each key or
item, so a problem can be reported as `file:line`. Bad input (binary, empty, non-UTF-8, tabs,
alias bombs, oversized or too deeply nested documents, duplicate keys) raises `TemplateError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import yaml

from samlite.errors import TemplateError
from samlite.template.problems import Problem

# CloudFormation rejects template bodies over 1 MB (S3-hosted limit); so do we.
MAX_TEMPLATE_BYTES = 1_048_576
# Nodes after alias expansion: a YAML bomb references a few nodes exponentially often.
MAX_EXPANDED_NODES = 500_000
MAX_DEPTH = 128


class LDict(dict):
    """A mapping that knows its line and the line of each of its keys."""

    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}


class LList(list):
    """A sequence that knows its line and the line of each item."""

    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TemplateLoader(_BaseLoader):
    """SafeLoader (C parser when available) with CFN tags, line tracking and no timestamps."""


# Unquoted dates such as 2010-09-09 must stay strings, as CloudFormation reads them.
TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_map(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode) -> LDict:
    own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    result = LDict()
    result.line = _line(node)
    first_own = len(node.value) - own
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable (complex) mapping key", key_node.start_mark) from None
        if key in result and index >= first_own:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first defined on line {result.key_lines[key]})",
                key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = _line(key_node)
    return result


def _construct_seq(loader: yaml.constructor.SafeConstructor, node: yaml.SequenceNode) -> LList:
    result = LList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = _line(node)
    result.item_lines = [_line(child) for child in node.value]
    return result


TemplateLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
TemplateLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)

# short tag -> long-form key
SHORT_TAGS = {
    "Ref": "Ref", "Condition": "Condition",
    **{name: f"Fn::{name}" for name in (
        "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
        "FindInMap", "Base64", "Cidr", "GetAZs", "ImportValue", "Transform", "ToJsonString",
        "Length")},
}


def _make_tag_constructor(key: str) -> Any:
    def construct(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> LDict:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if key == "Fn::GetAtt":
                # `!GetAtt A.B.C` splits at the first dot: resource A, attribute B.C.
                head, _, tail = value.partition(".")
                value = LList([head, tail] if tail else [head])
                value.line = _line(node)
                value.item_lines = [_line(node)] * len(value)
            elif key in ("Fn::GetAZs",) and value is None:
                value = ""
        elif isinstance(node, yaml.SequenceNode):
            value = _construct_seq(loader, node)
        else:
            assert isinstance(node, yaml.MappingNode)  # the YAML node kinds are scalar, sequence, mapping
            value = _construct_map(loader, node)
        out = LDict({key: value})
        out.line = _line(node)
        out.key_lines = {key: _line(node)}
        return out

    return construct


for _short, _long in SHORT_TAGS.items():
    TemplateLoader.add_constructor(f"!{_short}", _make_tag_constructor(_long))


def _check_graph(root: yaml.Node, filename: str) -> None:
    """Refuse alias bombs, recursive aliases and deep nesting before constructing anything.

    Counts nodes as if every alias were expanded (memoised per node, so linear in the node
    graph) and tracks depth, iteratively so that no input can exhaust the Python stack.
    """
    sizes: dict[int, int] = {}
    depth_of: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    in_progress: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            in_progress.discard(key)
            children = _children(node)
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[key] = total
            if total > MAX_EXPANDED_NODES:
                raise _error(filename, _line(node),
                             f"the document expands to more than {MAX_EXPANDED_NODES:,} nodes "
                             "(YAML alias bomb?)")
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise _error(filename, _line(node), "recursive YAML alias")
        if depth > MAX_DEPTH:
            raise _error(filename, _line(node), f"nesting deeper than {MAX_DEPTH} levels")
        in_progress.add(key)
        depth_of[key] = depth
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _error(filename: str, line: int | None, message: str, hint: str | None = None) -> TemplateError:
    where = f"{filename}:{line}" if line else filename
    return TemplateError(f"{where}: {message}", [Problem(filename, line, "", "", message)], hint)


def parse_yaml(text: str, filename: str = "<template>") -> Any:
    """Parse YAML text with CloudFormation tags; raise TemplateError on any problem."""
    loader = TemplateLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _error(filename, None, "the template is empty")
        _check_graph(node, filename)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        hint = None
        if "\\t" in problem or "'\\t'" in problem or (mark and _tab_at(text, mark)):
            hint = "YAML does not allow tabs for indentation; use spaces."
        raise _error(filename, line, f"invalid YAML: {problem}", hint) from None
    except yaml.YAMLError as exc:
        raise _error(filename, None, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise _error(filename, None, f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


def _tab_at(text: str, mark: Any) -> bool:
    lines = text.splitlines()
    return 0 <= mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]


def _json_object(pairs: list[tuple[str, Any]]) -> LDict:
    out = LDict()
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key '{key}'")
        out[key] = value
    return out


def parse_json(text: str, filename: str = "<template>") -> Any:
    """Parse JSON strictly; then re-read it with the YAML parser (a JSON superset) for lines."""
    try:
        strict = json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise _error(filename, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except ValueError as exc:
        raise _error(filename, None, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise _error(filename, None, f"nesting deeper than {MAX_DEPTH} levels") from None
    try:
        with_lines = parse_yaml(text, filename)
    except TemplateError as exc:
        if "nesting" in exc.message or "expands" in exc.message:
            raise
        return strict  # e.g. tab indentation: valid JSON, not YAML; lines are lost
    return with_lines if with_lines == strict else strict


def decode(data: bytes, filename: str) -> str:
    """Bytes -> text, refusing binary, oversized, empty and non-UTF-8 input with a clear message."""
    if len(data) > MAX_TEMPLATE_BYTES:
        raise _error(filename, None, f"the template is {len(data):,} bytes; the limit is "
                     f"{MAX_TEMPLATE_BYTES:,} bytes (1 MB)")
    if b"\x00" in data[:8192]:
        raise _error(filename, None, "this is a binary file, not a YAML or JSON template")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _error(filename, line, f"the template is not valid UTF-8 (byte 0x{data[exc.start]:02x} "
                     f"at offset {exc.start})", "Save the file as UTF-8.") from None
    if not text.strip():
        raise _error(filename, None, "the template is empty")
    return text


def load_template(path: str | Path) -> Any:
    """Read and parse a template file (YAML or JSON). The result's top level must be a mapping."""
    path = Path(path)
    filename = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _error(filename, None, "no such file") from None
    except IsADirectoryError:
        raise _error(filename, None, "is a directory, not a template file") from None
    except OSError as exc:
        raise _error(filename, None, f"cannot read: {exc.strerror}") from None
    text = decode(data, filename)
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        doc = parse_json(text, filename)
    else:
        doc = parse_yaml(text, filename)
    if not isinstance(doc, dict):
        raise _error(filename, getattr(doc, "line", None) or 1,
                     f"the template must be a mapping of sections, not {type(doc).__name__}")
    return doc


def line_of(root: Any, path: Iterable[Any]) -> int | None:
    """The line of the deepest node along `path` (keys and list indexes) that exists."""
    best = getattr(root, "line", None) or None
    node = root
    for part in path:
        if isinstance(node, LDict) and part in node:
            best = node.key_lines.get(part, best)
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.item_lines[part] if part < len(node.item_lines) else best
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            break
    return best
