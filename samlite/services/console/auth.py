"""Who may use the console: the holder of the engine's random token, from the console's own origin.

As Jupyter does: the engine makes a token at start and keeps it in engine.json (0600). A visit
with `?token=` trades it for an HttpOnly, SameSite=Strict cookie; later requests carry the cookie
(or, for scripts, an `X-Samlite-Token` header). A state-changing request also needs a same-origin
proof: an `Origin` equal to the console's own origin, or, with no `Origin` at all, the token in the
header (which a cross-site page cannot set without a CORS preflight the console never grants).
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

SAFE_METHODS = frozenset(("GET", "HEAD"))
TOKEN_HEADER = "x-samlite-token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    # Cookies ignore ports: two engines on 127.0.0.1 must not overwrite each other's cookie.
    return f"samlite_console_{port}"


def _same(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())  # type: ignore[union-attr]


def query_token(query_string: bytes) -> str | None:
    values = parse_qs(query_string.decode("latin-1")).get("token")
    return values[0] if values else None


def cookie_token(headers: dict[str, str], port: int) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(cookie_name(port))
    return morsel.value if morsel else None


def has_token(headers: dict[str, str], port: int, token: str) -> bool:
    return _same(headers.get(TOKEN_HEADER), token) or _same(cookie_token(headers, port), token)


def same_origin(headers: dict[str, str], scheme: str = "http") -> bool:
    """The request comes from a page of the console's own origin (or from a non-browser client
    that proved itself with the header token, checked by the caller)."""
    origin = headers.get("origin")
    host = headers.get("host")
    if origin is None:
        return False
    return host is not None and origin == f"{scheme}://{host}"


def allowed(method: str, headers: dict[str, str], port: int, token: str) -> bool:
    """Reads need the token; state changes need the token plus the same-origin proof."""
    if not has_token(headers, port, token):
        return False
    if method in SAFE_METHODS:
        return True
    if "origin" in headers:
        return same_origin(headers)
    return _same(headers.get(TOKEN_HEADER), token)
