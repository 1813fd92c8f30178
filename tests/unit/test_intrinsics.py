"""Intrinsic functions, each on its own, plus Fn::Sub parsing properties."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlite.template.intrinsics import (
    NO_VALUE,
    IntrinsicError,
    Resolver,
    Scope,
    parse_sub,
    references,
)

RESOURCES = {"Fn": "my-fn", "Queue": "https://q/url"}


def _getatt(lid: str, attr: str) -> Any:
    if (lid, attr) == ("Fn", "Arn"):
        return "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
    if (lid, attr) == ("Queue", "Arn"):
        return "arn:aws:sqs:us-east-1:123456789012:q"
    raise IntrinsicError(f"'{lid}' has no attribute '{attr}'")


def make(exports: dict[str, str] | None = None, missing: str = "error",
         conditions: dict[str, Any] | None = None) -> tuple[Resolver, list[tuple[Any, str, str]]]:
    problems: list[tuple[Any, str, str]] = []
    conditions = conditions or {"Yes": True, "No": False}
    scope = Scope(
        parameters={"Stage": "dev", "Count": "3", "AttrName": "Arn", "Subnets": ["a", "b", "c"]},
        pseudo={"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                "AWS::StackName": "st", "AWS::NotificationARNs": []},
        resource_ids=lambda: list(RESOURCES), ref=lambda lid: RESOURCES[lid], getatt=_getatt,
        mappings={"Env": {"dev": {"Size": 128, "Zones": ["x", "y"]}}},
        condition=lambda name: conditions[name], condition_names=lambda: list(conditions),
        exports=exports or {}, missing_export=missing)
    resolver = Resolver(scope, lambda path, message, severity: problems.append((path, message, severity)))
    return resolver, problems


def resolve(value: Any, **kwargs: Any) -> Any:
    resolver, problems = make(**kwargs)
    result = resolver.resolve(value)
    assert not [p for p in problems if p[2] == "error"], problems
    return result


def errors_of(value: Any, **kwargs: Any) -> list[str]:
    resolver, problems = make(**kwargs)
    resolver.resolve(value)
    return [message for _, message, severity in problems if severity == "error"]


def test_ref_parameters_pseudo_and_resources() -> None:
    assert resolve({"Ref": "Stage"}) == "dev"
    assert resolve({"Ref": "Subnets"}) == ["a", "b", "c"]
    assert resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert resolve({"Ref": "Fn"}) == "my-fn"
    assert "did you mean 'Stage'" in errors_of({"Ref": "Stag"})[0]


def test_getatt_both_forms_and_unknown_attribute() -> None:
    assert resolve({"Fn::GetAtt": ["Fn", "Arn"]}).endswith(":function:my-fn")
    assert resolve({"Fn::GetAtt": "Queue.Arn"}).endswith(":q")
    assert resolve({"Fn::GetAtt": ["Fn", {"Ref": "AttrName"}]}).endswith(":function:my-fn")
    assert "has no attribute 'Nope'" in errors_of({"Fn::GetAtt": ["Fn", "Nope"]})[0]
    assert "unknown resource 'Fnn'" in errors_of({"Fn::GetAtt": ["Fnn", "Arn"]})[0]


def test_sub_forms_escapes_and_shadowing() -> None:
    assert resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Fn}"}) == "st-dev-my-fn"
    assert resolve({"Fn::Sub": "${Fn.Arn}"}).endswith("function:my-fn")
    assert resolve({"Fn::Sub": "${!Literal} and ${!Stage}"}) == "${Literal} and ${Stage}"
    assert resolve({"Fn::Sub": ["${Stage}-${x}", {"Stage": "shadow", "x": {"Ref": "Fn"}}]}) == "shadow-my-fn"
    assert resolve({"Fn::Sub": "cost $5 ${Stage}"}) == "cost $5 dev"
    assert "Fn::Sub variable '${Nope}'" in errors_of({"Fn::Sub": "${Nope}"})[0]
    assert "unknown resource 'Nope'" in errors_of({"Fn::Sub": "${Nope.Arn}"})[0]
    assert "is a list" in errors_of({"Fn::Sub": "${Subnets}"})[0]


def test_join_select_split() -> None:
    assert resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]}) == "a-dev-3"
    assert resolve({"Fn::Join": [",", {"Ref": "Subnets"}]}) == "a,b,c"
    assert resolve({"Fn::Select": ["1", {"Ref": "Subnets"}]}) == "b"
    assert resolve({"Fn::Split": [",", "x,y,,z"]}) == ["x", "y", "", "z"]
    assert resolve({"Fn::Select": [2, {"Fn::Split": ["/", "a/b/c"]}]}) == "c"
    assert "out of range" in errors_of({"Fn::Select": [3, {"Ref": "Subnets"}]})[0]
    assert "takes a list of 2" in errors_of({"Fn::Join": ["-"]})[0]


def test_if_and_no_value_removal() -> None:
    value = {"A": {"Fn::If": ["Yes", "y", "n"]}, "B": {"Fn::If": ["No", "y", {"Ref": "AWS::NoValue"}]},
             "L": ["keep", {"Fn::If": ["No", "x", {"Ref": "AWS::NoValue"}]}]}
    assert resolve(value) == {"A": "y", "L": ["keep"]}
    # The branch not taken is not resolved, so it may name things that do not exist.
    assert resolve({"Fn::If": ["Yes", "ok", {"Ref": "Missing"}]}) == "ok"
    assert "unknown condition 'Maybe'" in errors_of({"Fn::If": ["Maybe", 1, 2]})[0]
    assert resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_condition_functions() -> None:
    resolver, problems = make()
    assert resolver.evaluate_condition({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}, ()) is True
    assert resolver.evaluate_condition({"Fn::Equals": [{"Ref": "Count"}, 3]}, ()) is True
    assert resolver.evaluate_condition({"Fn::Not": [{"Condition": "Yes"}]}, ()) is False
    assert resolver.evaluate_condition({"Fn::And": [{"Condition": "Yes"}, {"Condition": "No"}]}, ()) is False
    assert resolver.evaluate_condition({"Fn::Or": [{"Condition": "Yes"}, {"Condition": "No"}]}, ()) is True
    with pytest.raises(IntrinsicError, match="Fn::And takes a list of"):
        resolver.evaluate_condition({"Fn::And": [{"Condition": "Yes"}]}, ())
    with pytest.raises(IntrinsicError, match="a condition must be"):
        resolver.evaluate_condition("maybe", ())


def test_find_in_map_base64_cidr_azs() -> None:
    assert resolve({"Fn::FindInMap": ["Env", {"Ref": "Stage"}, "Size"]}) == 128
    assert resolve({"Fn::FindInMap": ["Env", "prod", "Size", {"DefaultValue": 64}]}) == 64
    assert "top-level key 'prod' not found" in errors_of({"Fn::FindInMap": ["Env", "prod", "Size"]})[0]
    assert base64.b64decode(resolve({"Fn::Base64": {"Fn::Sub": "#!${Stage}"}})) == b"#!dev"
    assert resolve({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}) == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    assert resolve({"Fn::GetAZs": ""})[:2] == ["us-east-1a", "us-east-1b"]
    assert resolve({"Fn::GetAZs": "eu-west-1"}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def test_import_value_error_or_warning() -> None:
    assert resolve({"Fn::ImportValue": "shared"}, exports={"shared": "v"}) == "v"
    assert "no stack exports 'other'" in errors_of({"Fn::ImportValue": "other"})[0]
    resolver, problems = make(missing="warning")
    resolver.resolve({"Fn::ImportValue": {"Fn::Sub": "${Stage}-x"}})
    assert problems and problems[0][2] == "warning" and "dev-x" in problems[0][1]
    assert resolver.scope.imports == ["dev-x"]


def test_unknown_intrinsic_suggests() -> None:
    assert "did you mean 'Fn::Join'" in errors_of({"Fn::Jion": ["", []]})[0]


def test_references_finds_names_without_resolving() -> None:
    value = {"a": {"Ref": "X"}, "b": {"Fn::GetAtt": "Y.Arn"}, "c": {"Fn::Sub": "${Z.Arn}-${!W}-${AWS::Region}"},
             "d": {"Fn::Sub": ["${local}", {"local": {"Ref": "V"}}]}}
    assert set(references(value)) == {"X", "Y", "Z", "AWS::Region", "V"}


# ------------------------------------------------------------------ Fn::Sub parsing properties

_literal = st.text(alphabet=st.characters(blacklist_characters="${}", blacklist_categories=("Cs",)),
                   max_size=8)
_var = st.from_regex(r"[A-Za-z][A-Za-z0-9:.]{0,10}", fullmatch=True)
_piece = st.one_of(_literal.map(lambda t: ("lit", t)), _var.map(lambda v: ("var", v)),
                   _var.map(lambda v: ("esc", v)))


@settings(max_examples=300, deadline=None)
@given(st.lists(_piece, max_size=8))
def test_parse_sub_splits_literals_variables_and_escapes(pieces: list[tuple[str, str]]) -> None:
    text = "".join(v if k == "lit" else ("${" + v + "}" if k == "var" else "${!" + v + "}")
                   for k, v in pieces)
    parts = parse_sub(text)
    # Variables come out in order; escapes and literals become text.
    assert [p[0] for p in parts if isinstance(p, tuple)] == [v for k, v in pieces if k == "var"]
    rendered = "".join(p if isinstance(p, str) else "<" + p[0] + ">" for p in parts)
    expected = "".join(v if k == "lit" else ("<" + v + ">" if k == "var" else "${" + v + "}")
                       for k, v in pieces)
    assert rendered == expected
    # No two literal parts are adjacent.
    assert all(not (isinstance(a, str) and isinstance(b, str)) for a, b in zip(parts, parts[1:]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_literal, st.sampled_from(["${Stage}", "${Fn}", "${!Esc}", "${AWS::Region}"])),
                max_size=6))
def test_sub_resolution_matches_naive_substitution(chunks: list[str]) -> None:
    text = "".join(chunks)
    expected = "".join({"${Stage}": "dev", "${Fn}": "my-fn", "${!Esc}": "${Esc}",
                        "${AWS::Region}": "us-east-1"}.get(c, c) for c in chunks)
    assert resolve({"Fn::Sub": text}) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "dev"]), min_size=1, max_size=5), st.sampled_from([",", "-", "::"]))
def test_nested_join_split_select_round_trip(items: list[str], delim: str) -> None:
    joined = {"Fn::Join": [delim, items]}
    assert resolve({"Fn::Split": [delim, joined]}) == items
    for index in range(len(items)):
        assert resolve({"Fn::Select": [index, {"Fn::Split": [delim, joined]}]}) == items[index]
