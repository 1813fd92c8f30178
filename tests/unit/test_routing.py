"""Route matching precedence: literal > {param} > {proxy+}, method > ANY, $default."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from samlite.services.apigateway.routing import RouteTable, split_path


@dataclass(frozen=True)
class R:
    method: str
    path: str


def table(*specs: str) -> RouteTable[R]:
    return RouteTable([R(*s.split(" ", 1)) for s in specs])


def key(t: RouteTable[R], method: str, path: str) -> tuple[str, dict[str, str] | None] | None:
    m = t.match(method, path)
    return None if m is None else (f"{m.route.method} {m.route.path}", m.path_parameters)


def test_literal_beats_param_beats_greedy() -> None:
    t = table("GET /items/{id}", "GET /items/special", "GET /{proxy+}")
    assert key(t, "GET", "/items/special") == ("GET /items/special", None)
    assert key(t, "GET", "/items/42") == ("GET /items/{id}", {"id": "42"})
    assert key(t, "GET", "/other/a/b") == ("GET /{proxy+}", {"proxy": "other/a/b"})
    assert key(t, "GET", "/items/42/more") == ("GET /{proxy+}", {"proxy": "items/42/more"})


def test_method_beats_any_and_backtracking() -> None:
    t = table("ANY /items/{id}", "GET /items/{id}", "POST /{proxy+}")
    assert key(t, "GET", "/items/1")[0] == "GET /items/{id}"
    assert key(t, "DELETE", "/items/1")[0] == "ANY /items/{id}"
    t2 = table("GET /items/{id}", "POST /{proxy+}")
    # The most specific resource lacks POST: the greedy route that has it answers.
    assert key(t2, "POST", "/items/1") == ("POST /{proxy+}", {"proxy": "items/1"})
    assert key(t2, "PUT", "/items/1") is None


def test_root_and_trailing_slash_and_greedy_needs_a_segment() -> None:
    t = table("GET /", "GET /{proxy+}", "GET /a/b")
    assert key(t, "GET", "/") == ("GET /", None)
    assert key(t, "GET", "/a/b/") == ("GET /a/b", None)
    only_greedy = table("ANY /{proxy+}")
    assert only_greedy.match("GET", "/") is None


def test_params_are_decoded_per_segment() -> None:
    t = table("GET /files/{name}", "GET /blob/{key+}")
    assert key(t, "GET", "/files/a%20b") == ("GET /files/{name}", {"name": "a b"})
    # An encoded slash stays inside its segment.
    assert key(t, "GET", "/files/a%2Fb") == ("GET /files/{name}", {"name": "a/b"})
    assert key(t, "GET", "/blob/x/y%20z") == ("GET /blob/{key+}", {"key": "x/y z"})


def test_http_default_route_catches_the_rest() -> None:
    t = table("GET /items", "ANY $default")
    assert key(t, "GET", "/items") == ("GET /items", None)
    assert key(t, "POST", "/items") == ("ANY $default", None)
    assert key(t, "GET", "/nothing/here") == ("ANY $default", None)


def test_unmatched_is_none_and_empty_segment_is_no_param() -> None:
    t = table("GET /items/{id}")
    assert t.match("GET", "/items") is None
    assert t.match("GET", "/items//") is None
    assert t.match("GET", "/users/1") is None


def test_sibling_params_keep_their_own_names() -> None:
    t = table("GET /items/{id}", "GET /items/{itemId}/parts/{partId}")
    assert key(t, "GET", "/items/1") == ("GET /items/{id}", {"id": "1"})
    assert key(t, "GET", "/items/1/parts/2") == ("GET /items/{itemId}/parts/{partId}", {"itemId": "1", "partId": "2"})


def test_methods_at_and_any_method_match() -> None:
    t = table("GET /items", "POST /items", "GET /items/{id}")
    assert t.methods_at("/items") == ["GET", "POST"]
    assert t.methods_at("/nope") == []
    assert t.match("OPTIONS", "/items/3", any_method=True) is not None


def test_greedy_must_be_last() -> None:
    with pytest.raises(ValueError):
        table("GET /{proxy+}/x")


def test_split_path() -> None:
    assert split_path("/") == []
    assert split_path("/a/b/") == ["a", "b"]
