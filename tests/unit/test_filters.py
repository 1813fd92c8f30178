"""FilterCriteria pattern matching over SQS records (EventBridge pattern semantics)."""

from __future__ import annotations

import json

import pytest

from samlite.core.filters import PatternError, compile_patterns, matches_any


def rec(body: str, **attrs: str) -> dict:
    return {"messageId": "m", "body": body, "attributes": {"ApproximateReceiveCount": "1", **attrs},
            "messageAttributes": {}}


def ok(pattern: dict, record: dict) -> bool:
    return matches_any(compile_patterns([json.dumps(pattern)]), record)


def test_no_patterns_match_everything() -> None:
    assert matches_any([], rec("anything"))


def test_exact_value_in_json_body() -> None:
    assert ok({"body": {"type": ["order"]}}, rec('{"type": "order"}'))
    assert not ok({"body": {"type": ["order"]}}, rec('{"type": "refund"}'))
    assert not ok({"body": {"type": ["order"]}}, rec('{"kind": "order"}'))


def test_body_patterns_need_json_bodies() -> None:
    assert not ok({"body": {"type": ["order"]}}, rec("type=order"))
    assert not ok({"body": {"type": ["order"]}}, rec("{not json"))
    # A value pattern on the whole body matches a plain string body.
    assert ok({"body": ["hello"]}, rec("hello"))


def test_prefix_suffix_and_ignore_case() -> None:
    assert ok({"body": {"id": [{"prefix": "ord-"}]}}, rec('{"id": "ord-1"}'))
    assert not ok({"body": {"id": [{"prefix": "ord-"}]}}, rec('{"id": "ref-1"}'))
    assert ok({"body": {"f": [{"suffix": ".png"}]}}, rec('{"f": "a.png"}'))
    assert ok({"body": {"s": [{"equals-ignore-case": "OK"}]}}, rec('{"s": "ok"}'))


def test_anything_but() -> None:
    assert ok({"body": {"s": [{"anything-but": ["bad", "worse"]}]}}, rec('{"s": "good"}'))
    assert not ok({"body": {"s": [{"anything-but": "bad"}]}}, rec('{"s": "bad"}'))
    assert ok({"body": {"s": [{"anything-but": {"prefix": "tmp"}}]}}, rec('{"s": "keep"}'))
    assert not ok({"body": {"s": [{"anything-but": {"prefix": "tmp"}}]}}, rec('{"s": "tmp1"}'))


def test_numeric_ranges() -> None:
    pattern = {"body": {"n": [{"numeric": [">", 0, "<=", 5]}]}}
    assert ok(pattern, rec('{"n": 5}'))
    assert ok(pattern, rec('{"n": 0.5}'))
    assert not ok(pattern, rec('{"n": 0}'))
    assert not ok(pattern, rec('{"n": "3"}'))  # a string is not a number
    assert ok({"body": {"n": [{"numeric": ["=", 3]}]}}, rec('{"n": 3.0}'))


def test_exists() -> None:
    assert ok({"body": {"x": [{"exists": True}]}}, rec('{"x": null}'))
    assert not ok({"body": {"x": [{"exists": True}]}}, rec('{"y": 1}'))
    assert ok({"body": {"x": [{"exists": False}]}}, rec('{"y": 1}'))


def test_arrays_in_the_event_match_any_element() -> None:
    assert ok({"body": {"tags": ["red"]}}, rec('{"tags": ["blue", "red"]}'))


def test_attributes_are_matched_too() -> None:
    assert ok({"attributes": {"ApproximateReceiveCount": ["1"]}}, rec("x"))


def test_filters_are_ored() -> None:
    patterns = compile_patterns(['{"body": {"a": [1]}}', '{"body": {"b": [2]}}'])
    assert matches_any(patterns, rec('{"b": 2}'))
    assert not matches_any(patterns, rec('{"c": 3}'))


@pytest.mark.parametrize("bad", ['{"body": "x"}', "[1]", "{not json", '{"a": [{"nope": 1}]}',
                                 '{"a": [{"numeric": [">"]}]}'])
def test_bad_patterns_are_rejected(bad: str) -> None:
    with pytest.raises(PatternError):
        compile_patterns([bad])
