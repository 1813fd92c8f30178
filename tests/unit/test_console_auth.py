"""The console's access rule alone: token from cookie or header, same origin for changes."""

from __future__ import annotations

from samlite.services.console import auth

TOKEN = "s3cret-token"
PORT = 3000
COOKIE = {"cookie": f"other=1; {auth.cookie_name(PORT)}={TOKEN}"}


def test_reads_need_the_token() -> None:
    assert auth.allowed("GET", COOKIE, PORT, TOKEN)
    assert auth.allowed("GET", {"x-samlite-token": TOKEN}, PORT, TOKEN)
    assert not auth.allowed("GET", {}, PORT, TOKEN)
    assert not auth.allowed("GET", {"cookie": f"{auth.cookie_name(PORT)}=nope"}, PORT, TOKEN)
    assert not auth.allowed("GET", {"cookie": f"{auth.cookie_name(3001)}={TOKEN}"}, PORT, TOKEN)
    assert not auth.allowed("GET", {"cookie": "=;;bad\x00"}, PORT, TOKEN)


def test_changes_need_the_token_and_the_same_origin() -> None:
    host = {"host": "127.0.0.1:3000"}
    assert auth.allowed("POST", {**COOKIE, **host, "origin": "http://127.0.0.1:3000"}, PORT, TOKEN)
    assert not auth.allowed("POST", {**COOKIE, **host, "origin": "http://localhost:3000"}, PORT, TOKEN)
    assert not auth.allowed("POST", {**COOKIE, **host, "origin": "null"}, PORT, TOKEN)
    assert not auth.allowed("POST", {**COOKIE, **host}, PORT, TOKEN)  # a cookie alone is what CSRF rides on
    assert auth.allowed("POST", {"x-samlite-token": TOKEN, **host}, PORT, TOKEN)  # a script, not a browser
    assert not auth.allowed("POST", {"x-samlite-token": TOKEN, **host, "origin": "http://evil"}, PORT, TOKEN)
    assert not auth.allowed("POST", {**host, "origin": "http://127.0.0.1:3000"}, PORT, TOKEN)


def test_query_token_and_fresh_tokens() -> None:
    assert auth.query_token(b"a=1&token=abc") == "abc"
    assert auth.query_token(b"a=1") is None
    assert auth.new_token() != auth.new_token() and len(auth.new_token()) >= 32
