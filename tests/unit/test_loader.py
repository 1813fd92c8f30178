"""The template loader: short tags, lines, duplicate keys, dates, and bad input (library + CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlite.errors import TemplateError
from samlite.template.loader import (
    MAX_TEMPLATE_BYTES,
    LDict,
    LList,
    line_of,
    load_template,
    parse_yaml,
)


def test_short_tags_become_long_forms() -> None:
    doc = parse_yaml("""
a: !Ref Param
b: !GetAtt Res.Attr.Deep
c: !GetAtt [Res, Attr]
d: !Sub "x-${AWS::Region}"
e: !Sub ["${a}-${b}", {a: !Ref X, b: y}]
f: !Join [",", [a, b]]
g: !Select [0, !Split [",", "a,b"]]
h: !If [Cond, 1, !Ref "AWS::NoValue"]
i: !Equals [a, b]
j: !Not [!Condition Other]
k: !And [!Condition A, !Or [!Condition B, !Condition C]]
l: !FindInMap [M, k1, k2]
m: !Base64 text
n: !Cidr ["10.0.0.0/16", 4, 8]
o: !GetAZs ""
p: !ImportValue shared-export
q: !Transform {Name: "AWS::Include", Parameters: {Location: s3://b/k}}
r: !GetAZs
""")
    assert doc["a"] == {"Ref": "Param"}
    assert doc["b"] == {"Fn::GetAtt": ["Res", "Attr.Deep"]}
    assert doc["c"] == {"Fn::GetAtt": ["Res", "Attr"]}
    assert doc["d"] == {"Fn::Sub": "x-${AWS::Region}"}
    assert doc["e"] == {"Fn::Sub": ["${a}-${b}", {"a": {"Ref": "X"}, "b": "y"}]}
    assert doc["f"] == {"Fn::Join": [",", ["a", "b"]]}
    assert doc["g"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert doc["h"] == {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]}
    assert doc["i"] == {"Fn::Equals": ["a", "b"]}
    assert doc["j"] == {"Fn::Not": [{"Condition": "Other"}]}
    assert doc["k"] == {"Fn::And": [{"Condition": "A"}, {"Fn::Or": [{"Condition": "B"},
                                                                     {"Condition": "C"}]}]}
    assert doc["l"] == {"Fn::FindInMap": ["M", "k1", "k2"]}
    assert doc["m"] == {"Fn::Base64": "text"}
    assert doc["n"] == {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}
    assert doc["o"] == {"Fn::GetAZs": ""}
    assert doc["p"] == {"Fn::ImportValue": "shared-export"}
    assert doc["q"] == {"Fn::Transform": {"Name": "AWS::Include",
                                          "Parameters": {"Location": "s3://b/k"}}}
    assert doc["r"] == {"Fn::GetAZs": ""}


def test_dates_stay_strings_and_lines_are_kept() -> None:
    doc = parse_yaml("AWSTemplateFormatVersion: 2010-09-09\nResources:\n  Fn:\n"
                     "    Type: X\n    Properties:\n      Version: 2012-10-17\n      L: [a, b]\n")
    assert doc["AWSTemplateFormatVersion"] == "2010-09-09"
    assert doc["Resources"]["Fn"]["Properties"]["Version"] == "2012-10-17"
    assert isinstance(doc, LDict) and isinstance(doc["Resources"]["Fn"]["Properties"]["L"], LList)
    assert line_of(doc, ["Resources", "Fn", "Properties", "Version"]) == 6
    assert line_of(doc, ["Resources", "Fn", "Properties", "L", 1]) == 7
    # A missing tail reports the deepest existing node.
    assert line_of(doc, ["Resources", "Fn", "Properties", "Nope", "x"]) == 5


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(TemplateError) as info:
        parse_yaml("Resources:\n  A: 1\n  A: 2\n", "t.yaml")
    assert "t.yaml:3" in info.value.message and "duplicate key 'A'" in info.value.message
    assert "first defined on line 2" in info.value.message


def test_json_templates_get_lines_and_duplicate_detection(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{\n  "Resources": {\n    "Q": {"Type": "AWS::SQS::Queue"}\n  }\n}\n')
    doc = load_template(path)
    assert doc["Resources"]["Q"]["Type"] == "AWS::SQS::Queue"
    assert line_of(doc, ["Resources", "Q"]) == 3
    path.write_text('{"Resources": {"Q": 1, "Q": 2}}')
    with pytest.raises(TemplateError, match="duplicate key 'Q'"):
        load_template(path)
    path.write_text('{"Resources": {"Q": 1,\n\t"R": }}')
    with pytest.raises(TemplateError, match="invalid JSON"):
        load_template(path)


def test_alias_bomb_is_refused_quickly() -> None:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 12):
        prev, cur = chr(96 + i), chr(97 + i)
        text += f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    started = time.monotonic()
    with pytest.raises(TemplateError, match="alias bomb"):
        parse_yaml(text, "bomb.yaml")
    assert time.monotonic() - started < 2


def test_recursive_alias_and_deep_nesting_are_refused() -> None:
    with pytest.raises(TemplateError, match="recursive YAML alias"):
        parse_yaml("a: &x [*x]\n")
    with pytest.raises(TemplateError, match="nesting"):
        parse_yaml("a: " + "[" * 2000 + "]" * 2000)
    deep = "".join(" " * i + f"k{i}:\n" for i in range(300)) + " " * 300 + "x: 1\n"
    with pytest.raises(TemplateError, match="nesting deeper"):
        parse_yaml(deep)


def test_small_aliases_still_work() -> None:
    doc = parse_yaml("base: &b {x: 1}\nother: *b\nmerged:\n  <<: *b\n  y: 2\n")
    assert doc["other"] == {"x": 1} and doc["merged"] == {"x": 1, "y": 2}


@pytest.mark.parametrize("data, message", [
    (b"", "empty"), (b"   \n\n", "empty"), (b"\x00\x01\x02binary", "binary"),
    (b"Resources:\n  A: \xff\xfe\n", "not valid UTF-8"),
    (b"Resources:\n\tA: 1\n", "tabs"), (b"- just\n- a list\n", "mapping of sections"),
])
def test_bad_input_raises_template_error(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_bytes(data)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    text = info.value.message + " " + (info.value.hint or "")
    assert message in text
    assert info.value.problems and info.value.problems[0].file == str(path)


def test_oversized_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_bytes(b"Description: x\n" + b"# padding\n" * (MAX_TEMPLATE_BYTES // 10 + 10))
    with pytest.raises(TemplateError, match="limit is 1,048,576 bytes"):
        load_template(path)


# ------------------------------------------------------------------ CLI: exit codes, no traceback

def _run_validate(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAMLITE_DEBUG": ""}
    env.pop("SAMLITE_DEBUG")
    return subprocess.run([sys.executable, "-m", "samlite", "validate", "-t", str(path)],
                          capture_output=True, text=True, timeout=30, env=env)


def _bomb() -> bytes:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 12):
        prev, cur = chr(96 + i), chr(97 + i)
        text += f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text.encode()


def _big_template() -> bytes:
    head = b"AWSTemplateFormatVersion: '2010-09-09'\nResources:\n"
    body = b"".join(b"  Q%d:\n    Type: AWS::SQS::Queue\n" % i for i in range(40000))
    return head + body


@pytest.mark.parametrize("name, data, message", [
    ("binary", os.urandom(512) + b"\x00", "binary file"),
    ("empty", b"", "empty"),
    ("bomb", _bomb(), "alias bomb"),
    ("tabs", b"Resources:\n\tQ:\n\t\tType: AWS::SQS::Queue\n", "tabs"),
    ("latin1", "Description: caf\u00e9\nResources: {}\n".encode("latin-1"), "not valid UTF-8"),
    ("huge", _big_template(), "1 MB"),
])
def test_cli_bad_input_exits_3_without_traceback(tmp_path: Path, name: str, data: bytes,
                                                 message: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(data)
    started = time.monotonic()
    result = _run_validate(path)
    assert time.monotonic() - started < 10
    assert result.returncode == 3, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_cli_json_output_for_unparsable_template(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  A: [unclosed\n")
    result = subprocess.run([sys.executable, "-m", "samlite", "validate", "-t", str(path),
                             "--output", "json"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["errors"][0]["line"] in (2, 3)
    assert "invalid YAML" in data["errors"][0]["message"]


# ------------------------------------------------------------------ hypothesis round trips

_names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True)
_scalars = st.one_of(_names, st.integers(-10**6, 10**6), st.booleans())


def _intrinsics(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        _names.map(lambda n: {"Ref": n}),
        st.tuples(_names, _names).map(lambda t: {"Fn::GetAtt": [t[0], t[1]]}),
        _names.map(lambda n: {"Fn::Sub": "pre-${" + n + "}-post"}),
        st.lists(children, max_size=3).map(lambda xs: {"Fn::Join": [",", xs]}),
        st.tuples(_names, children, children).map(lambda t: {"Fn::If": list(t)}),
        st.tuples(children, children).map(lambda t: {"Fn::Equals": list(t)}),
        _names.map(lambda n: {"Fn::Base64": n}),
        _names.map(lambda n: {"Fn::ImportValue": n}),
    )


_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_names, children, max_size=4),
        _intrinsics(children)),
    max_leaves=25)


def _emit(value: Any, indent: int = 0) -> str:
    """A YAML emitter that writes intrinsics as short tags (flow style for simplicity)."""
    if isinstance(value, dict) and len(value) == 1:
        key, arg = next(iter(value.items()))
        if key == "Ref":
            return f"!Ref {arg}"
        if key == "Fn::GetAtt":
            return f"!GetAtt {arg[0]}.{arg[1]}"
        if key.startswith("Fn::") and key[4:] in ("Sub", "Base64", "ImportValue") and isinstance(arg, str):
            return f"!{key[4:]} {json.dumps(arg)}"
        if key.startswith("Fn::") and isinstance(arg, list):
            return f"!{key[4:]} [" + ", ".join(_emit(v) for v in arg) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_emit(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_tagged_yaml_round_trips_to_long_form(value: Any) -> None:
    assert parse_yaml("root: " + _emit(value) + "\n")["root"] == value


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_names, _values, min_size=1, max_size=5))
def test_json_dump_round_trips(value: dict[str, Any]) -> None:
    # JSON is parsed with the same loader: long forms stay long forms.
    assert parse_yaml(json.dumps(value)) == value
