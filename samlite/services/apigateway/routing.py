"""Route tables for API Gateway: match a method and path to a route, as API Gateway does.

A table is built once per deploy (`RouteTable(routes)`) as a segment trie, so matching a request
walks the path once with plain dict lookups: no regexes, nothing compiled per request.

Precedence, decided segment by segment: a literal segment beats `{param}`, which beats a greedy
`{name+}`; at the matched resource an explicit method beats `ANY`. When the most specific
resource lacks the method, less specific ones are tried (backtracking), and an HTTP API's
`$default` route catches whatever is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Iterable, Protocol, TypeVar
from urllib.parse import unquote


class RouteLike(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


R = TypeVar("R", bound=RouteLike)

DEFAULT_ROUTE = "$default"


@dataclass
class _Leaf(Generic[R]):
    """The routes defined on one resource path: method -> (route, param names by depth)."""

    # method -> (route, ((depth, param name), ...), greedy name or None, greedy depth)
    methods: dict[str, tuple[R, tuple[tuple[int, str], ...], str | None, int]] = field(default_factory=dict)


@dataclass
class _Node(Generic[R]):
    literal: dict[str, "_Node[R]"] = field(default_factory=dict)
    param: "_Node[R] | None" = None
    # Greedy `{name+}` children: a leaf per node (the greedy segment must be the last one).
    greedy: "_Leaf[R] | None" = None
    leaf: "_Leaf[R] | None" = None


@dataclass(frozen=True)
class Match(Generic[R]):
    route: R
    path_parameters: dict[str, str] | None  # None when the route has no parameters (as in the events)


def split_path(path: str) -> list[str]:
    """'/a/b/' -> ['a', 'b']; '/' -> []. A trailing slash names the same resource, as on AWS."""
    return list(path.strip("/").split("/")) if path.strip("/") else []


def _parse_template(path: str) -> tuple[list[tuple[str, str]], str | None]:
    """'/items/{id}/{proxy+}' -> ([('lit','items'), ('param','id')], 'proxy')."""
    segments = split_path(path)
    parts: list[tuple[str, str]] = []
    greedy: str | None = None
    for i, seg in enumerate(segments):
        if seg.startswith("{") and seg.endswith("+}"):
            if i != len(segments) - 1:
                raise ValueError(f"greedy path variable {seg} must be the last segment of {path}")
            greedy = seg[1:-2]
        elif seg.startswith("{") and seg.endswith("}"):
            parts.append(("param", seg[1:-1]))
        else:
            parts.append(("lit", seg))
    return parts, greedy


class RouteTable(Generic[R]):
    """All routes of one API, ready to match."""

    def __init__(self, routes: Iterable[R]) -> None:
        self._root: _Node[R] = _Node()
        self.default: R | None = None
        self.routes: list[R] = []
        for route in routes:
            self.add(route)

    def add(self, route: R) -> None:
        self.routes.append(route)
        if route.path == DEFAULT_ROUTE:
            self.default = route
            return
        parts, greedy = _parse_template(route.path)
        node = self._root
        params: list[tuple[int, str]] = []
        for depth, (kind, value) in enumerate(parts):
            if kind == "lit":
                node = node.literal.setdefault(value, _Node())
            else:
                if node.param is None:
                    node.param = _Node()
                node = node.param
                params.append((depth, value))
        if greedy is not None:
            if node.greedy is None:
                node.greedy = _Leaf()
            leaf = node.greedy
        else:
            if node.leaf is None:
                node.leaf = _Leaf()
            leaf = node.leaf
        leaf.methods.setdefault(route.method.upper(), (route, tuple(params), greedy, len(parts)))

    def match(self, method: str, path: str, *, any_method: bool = False) -> Match[R] | None:
        """The route for `method` on `path`, or the `$default` route, or None.

        `path` is the raw (still percent-encoded) path below the stage: segments are split on the
        raw '/' and decoded one by one, so an encoded %2F stays inside its segment.
        `any_method=True` matches a resource whatever methods it defines (for CORS preflight).
        """
        segments = [unquote(s) for s in split_path(path)] if "%" in path else split_path(path)
        found = _walk(self._root, segments, 0, method, any_method)
        if found is None:
            if self.default is not None:
                return Match(self.default, None)
            return None
        route, params, greedy, greedy_depth = found
        if not params and greedy is None:
            return Match(route, None)
        values = {name: segments[depth] for depth, name in params}
        if greedy is not None:
            values[greedy] = "/".join(segments[greedy_depth:])
        return Match(route, values)

    def methods_at(self, path: str) -> list[str]:
        """Methods defined on the resource that `path` matches (for REST CORS Allow-Methods)."""
        found = self.match("OPTIONS", path, any_method=True)
        if found is None:
            return []
        return sorted({r.method for r in self.routes if r.path == found.route.path})


def _pick(leaf: _Leaf[Any] | None, method: str, any_method: bool) -> Any:
    if leaf is None:
        return None
    entry = leaf.methods.get(method) or leaf.methods.get("ANY")
    if entry is None and any_method and leaf.methods:
        entry = next(iter(leaf.methods.values()))
    return entry


def _walk(node: _Node[Any], segments: list[str], i: int, method: str, any_method: bool) -> Any:
    if i == len(segments):
        return _pick(node.leaf, method, any_method)
    seg = segments[i]
    child = node.literal.get(seg)
    if child is not None:
        found = _walk(child, segments, i + 1, method, any_method)
        if found is not None:
            return found
    if node.param is not None and seg:
        found = _walk(node.param, segments, i + 1, method, any_method)
        if found is not None:
            return found
    # A greedy variable needs at least one non-empty character below it.
    if node.greedy is not None and any(segments[i:]):
        return _pick(node.greedy, method, any_method)
    return None
