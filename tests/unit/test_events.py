"""Event shapes (payload 1.0 / 2.0 / function URL), response mapping, CORS and authorizer logic."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from samlite.services.apigateway import auth, events
from samlite.services.apigateway.cors import HttpCors, RestCors
from samlite.services.apigateway.events import ApiContext, HttpRequest
from samlite.template.model import Authorizer, Cors

API = ApiContext("abc123", "Prod", "123456789012", "us-east-1", stage_variables={"env": "dev"},
                 deployment_id="dep1")
HTTP = ApiContext("h1", "$default", "123456789012", "us-east-1")


def req(method: str = "GET", path: str = "/items/42", query: str = "", headers: list | None = None,
        body: bytes = b"", stage_prefix: str = "") -> HttpRequest:
    return HttpRequest(method, path, query, headers if headers is not None else [("accept", "*/*")], body,
                       "10.0.0.1", 3000, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", 1428582896000,
                       stage_prefix=stage_prefix)


# --- payload 1.0 -----------------------------------------------------------------------------
def test_rest_event_fields() -> None:
    r = req(query="q=first&q=last&x=%41%20b&flag", headers=[("accept", "*/*"), ("x-multi", "a"), ("x-multi", "b"),
                                                         ("user-agent", "curl/8.0")])
    e = events.rest_event(r, API, "/items/{id}", {"id": "42"}, resource_id="r1")
    assert e["resource"] == "/items/{id}" and e["path"] == "/items/42" and e["httpMethod"] == "GET"
    assert e["headers"]["Accept"] == "*/*" and e["headers"]["X-Multi"] == "b"
    assert e["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert e["headers"]["X-Forwarded-For"] == "10.0.0.1" and e["headers"]["X-Forwarded-Proto"] == "http"
    assert e["headers"]["X-Forwarded-Port"] == "3000"
    assert e["queryStringParameters"] == {"q": "last", "x": "A b", "flag": ""}
    assert e["multiValueQueryStringParameters"]["q"] == ["first", "last"]
    assert e["pathParameters"] == {"id": "42"} and e["stageVariables"] == {"env": "dev"}
    assert e["body"] is None and e["isBase64Encoded"] is False
    rc = e["requestContext"]
    assert rc["path"] == "/Prod/items/42" and rc["stage"] == "Prod" and rc["resourcePath"] == "/items/{id}"
    assert rc["requestTime"] == "09/Apr/2015:12:34:56 +0000" and rc["requestTimeEpoch"] == 1428582896000
    assert rc["domainName"] == "abc123.execute-api.us-east-1.amazonaws.com" and rc["domainPrefix"] == "abc123"
    assert rc["identity"]["sourceIp"] == "10.0.0.1" and rc["identity"]["userAgent"] == "curl/8.0"
    assert rc["identity"]["apiKey"] is None and "authorizer" not in rc
    assert rc["accountId"] == "123456789012" and rc["apiId"] == "abc123" and rc["resourceId"] == "r1"
    json.dumps(e)


def test_rest_event_nulls_when_absent() -> None:
    e = events.rest_event(req(path="/"), ApiContext("a", "Prod", "1", "us-east-1"), "/", None)
    assert e["queryStringParameters"] is None and e["multiValueQueryStringParameters"] is None
    assert e["pathParameters"] is None and e["stageVariables"] is None


def test_rest_event_binary_and_text_bodies() -> None:
    patterns = events.media_matcher(("image~1png", "application/octet-*"))
    png = bytes(range(256))
    e = events.rest_event(req("POST", headers=[("content-type", "image/png")], body=png), API, "/x", None,
                          binary_patterns=patterns)
    assert e["isBase64Encoded"] is True and base64.b64decode(e["body"]) == png
    e = events.rest_event(req("POST", headers=[("content-type", "application/json")], body=b'{"a":1}'), API, "/x",
                          None, binary_patterns=patterns)
    assert e["body"] == '{"a":1}' and e["isBase64Encoded"] is False
    assert events.is_binary_type("image/gif", events.media_matcher(("*/*",)))
    assert events.is_binary_type("image/gif; x=1", events.media_matcher(("image/*",)))
    assert not events.is_binary_type("text/plain", events.media_matcher(("image/*",)))


def test_rest_event_forwarded_for_appends_and_version_key() -> None:
    e = events.rest_event(req(headers=[("x-forwarded-for", "1.2.3.4")]), HTTP, "/x", None, version="1.0")
    assert e["headers"]["X-Forwarded-For"] == "1.2.3.4, 10.0.0.1"
    assert e["version"] == "1.0" and e["requestContext"]["path"] == "/items/42"


def test_authorizer_and_api_key_in_rest_context() -> None:
    e = events.rest_event(req(), API, "/x", None, authorizer={"principalId": "u", "k": "v"}, api_key=("KEY", "id1"))
    assert e["requestContext"]["authorizer"] == {"principalId": "u", "k": "v"}
    assert e["requestContext"]["identity"]["apiKey"] == "KEY" and e["requestContext"]["identity"]["apiKeyId"] == "id1"


# --- payload 2.0 -----------------------------------------------------------------------------
def test_http_event_fields() -> None:
    r = req(query="q=first&q=last", headers=[("accept", "*/*"), ("x-multi", "v1"), ("x-multi", "v2"),
                                             ("cookie", "a=1; b=2"), ("user-agent", "curl/8.0")])
    e = events.http_event(r, HTTP, "GET /items/{id}", {"id": "42"})
    assert e["version"] == "2.0" and e["routeKey"] == "GET /items/{id}"
    assert e["rawPath"] == "/items/42" and e["rawQueryString"] == "q=first&q=last"
    assert e["cookies"] == ["a=1", "b=2"] and "cookie" not in e["headers"]
    assert e["headers"]["x-multi"] == "v1,v2" and e["queryStringParameters"] == {"q": "first,last"}
    assert e["pathParameters"] == {"id": "42"} and "stageVariables" not in e and "body" not in e
    assert e["isBase64Encoded"] is False
    http = e["requestContext"]["http"]
    assert http == {"method": "GET", "path": "/items/42", "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1",
                    "userAgent": "curl/8.0"}
    rc = e["requestContext"]
    assert rc["stage"] == "$default" and rc["routeKey"] == "GET /items/{id}" and rc["timeEpoch"] == 1428582896000
    assert rc["time"] == "09/Apr/2015:12:34:56 +0000" and rc["domainPrefix"] == "h1"


def test_http_event_omits_empty_items_and_keeps_named_stage_in_raw_path() -> None:
    e = events.http_event(req(path="/x", headers=[]), ApiContext("h", "dev", "1", "us-east-1"), "$default", None,
                          )
    assert "queryStringParameters" not in e and "pathParameters" not in e and "cookies" not in e
    assert e["rawQueryString"] == ""
    e = events.http_event(req(path="/x", stage_prefix="/dev"), ApiContext("h", "dev", "1", "us-east-1"), "$default",
                          None)
    assert e["rawPath"] == "/dev/x"


def test_http_event_binary_body_and_function_url() -> None:
    e = events.http_event(req("POST", headers=[("content-type", "application/octet-stream")], body=b"\x00\xff"),
                          HTTP, "$default", None)
    assert e["isBase64Encoded"] is True and base64.b64decode(e["body"]) == b"\x00\xff"
    e = events.http_event(req("POST", headers=[("content-type", "text/plain")], body=b"hi"), HTTP, "$default",
                          {"a": "b"}, function_url=True, account_id="anonymous")
    assert e["body"] == "hi" and e["requestContext"]["accountId"] == "anonymous" and "pathParameters" not in e


# --- responses -------------------------------------------------------------------------------
def test_rest_response_mapping() -> None:
    r = events.rest_response(json.dumps({"statusCode": 201, "headers": {"X-A": "1", "X-B": "b"},
                                         "multiValueHeaders": {"X-A": ["m1", "m2"], "Set-Cookie": ["a=1", "b=2"]},
                                         "body": "hello"}).encode())
    assert r is not None and r.status == 201 and r.body == b"hello"
    assert [v for k, v in r.headers if k == "X-A"] == ["m1", "m2"]
    assert ("X-B", "b") in r.headers and [v for k, v in r.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert ("Content-Type", "application/json") in r.headers


@pytest.mark.parametrize("payload", [
    b'{"statusCode": 200, "body": {"a": 1}}', b'{"body": "x"}', b'"just a string"', b'[1]',
    b'{"statusCode": 200, "extra": 1}', b'{"statusCode": "abc"}', b'{"statusCode": 200, "headers": {"a": [1]}}',
    b'not json',
])
def test_rest_response_malformed(payload: bytes) -> None:
    assert events.rest_response(payload) is None


def test_rest_response_base64_decoded_only_for_binary_types() -> None:
    body = base64.b64encode(b"\x89PNG").decode()
    out = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": body, "isBase64Encoded": True}
    payload = json.dumps(out).encode()
    assert events.rest_response(payload, events.media_matcher(("image/png",))).body == b"\x89PNG"
    assert events.rest_response(payload, ()).body == body.encode()
    assert events.rest_response(payload, events.media_matcher(("*/*",)), "image/png").body == b"\x89PNG"


def test_http_response_structured_and_inferred() -> None:
    r = events.http_response(json.dumps({"statusCode": 418, "headers": {"x-a": "1"}, "cookies": ["a=1", "b=2"],
                                         "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True,
                                         "unknown": True}).encode())
    assert r.status == 418 and r.body == b"\x00" and [v for k, v in r.headers if k == "set-cookie"] == ["a=1", "b=2"]
    r = events.http_response(b'{"hello": "world"}')
    assert r.status == 200 and json.loads(r.body) == {"hello": "world"}
    assert ("content-type", "application/json") in r.headers
    assert events.http_response(b'"plain"').body == b"plain"
    assert events.http_response(b"42").body == b"42"
    assert events.http_response(b"[1, 2]").body == b"[1, 2]"
    assert events.http_response(b"true").body == b"true"
    assert events.http_response(b"nope") is None
    assert events.http_response(b'{"statusCode": "x"}') is None


# --- CORS ------------------------------------------------------------------------------------
def test_http_cors_preflight_and_apply() -> None:
    c = HttpCors(Cors(allow_origins=("https://a.example",), allow_methods=("GET", "POST"),
                      allow_headers=("x-token",), expose_headers=("x-id",), max_age=60))
    hs = dict(c.preflight("https://a.example", "POST", "X-Token, x-other"))
    assert hs["access-control-allow-origin"] == "https://a.example"
    assert hs["access-control-allow-methods"] == "GET,POST" and hs["access-control-allow-headers"] == "x-token"
    assert hs["access-control-max-age"] == "60"
    assert c.preflight("https://evil.example", "POST", None) == []
    assert c.preflight("https://a.example", "DELETE", None) == []
    out = dict(c.apply("https://a.example", [("Access-Control-Allow-Origin", "*"), ("x", "1")]))
    assert out["access-control-allow-origin"] == "https://a.example" and "Access-Control-Allow-Origin" not in out
    assert out["access-control-expose-headers"] == "x-id"
    assert "access-control-allow-origin" not in dict(c.apply("https://evil.example", []))
    star = HttpCors(Cors(allow_origins=("*",)))
    assert dict(star.apply("https://x", []))["access-control-allow-origin"] == "*"


def test_rest_cors_mock_headers() -> None:
    hs = dict(RestCors(Cors(allow_origins=("*",), allow_headers=("Content-Type",))).preflight_headers(["GET"]))
    assert hs == {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type",
                  "Access-Control-Allow-Methods": "GET,OPTIONS"}


# --- authorizers and keys ----------------------------------------------------------------------
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/items/42"


def test_policy_evaluation() -> None:
    allow = {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ARN}]}
    assert auth.evaluate_policy(allow, ARN) == "Allow"
    wild = {"Statement": [{"Action": ["execute-api:*"], "Effect": "Allow",
                           "Resource": ["arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/*"]}]}
    assert auth.evaluate_policy(wild, ARN) == "Allow"
    assert auth.evaluate_policy(wild, ARN.replace("/GET/", "/POST/")) is None
    deny = {"Statement": [wild["Statement"][0], {"Action": "*", "Effect": "Deny", "Resource": "*"}]}
    assert auth.evaluate_policy(deny, ARN) == "Deny"
    assert auth.evaluate_policy({"Statement": {"Action": "s3:GetObject", "Effect": "Allow", "Resource": "*"}},
                                ARN) is None


def _ident(headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> auth.Identity:
    return auth.Identity(headers or {}, query or {}, {}, {})


def _run(authorizer: auth.LambdaAuthorizer, ident: auth.Identity, replies: list[Any], now: float = 0.0
         ) -> tuple[Any, list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    async def invoke(name: str, payload: bytes) -> tuple[bytes, str | None]:
        calls.append(json.loads(payload))
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            return json.dumps({"errorMessage": str(reply), "errorType": "Exception"}).encode(), "Unhandled"
        return json.dumps(reply).encode(), None

    result = asyncio.run(authorizer.authorize(ident, ARN, lambda: {"resource": "/x"}, invoke, now=now))
    return result, calls


def _allow(effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"principalId": "user", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": "arn:aws:execute-api:*"}]}, **extra}


def test_token_authorizer_allow_context_and_cache() -> None:
    a = auth.LambdaAuthorizer(Authorizer("A", "arn", "Fn", validation_expression=r"Bearer .+", ttl_seconds=60),
                              "fn", "rest")
    (ctx, usage), calls = _run(a, _ident({"authorization": "Bearer t"}),
                               [_allow(context={"n": 1, "b": True}, usageIdentifierKey="K")])
    assert ctx["principalId"] == "user" and ctx["n"] == 1 and usage == "K"
    assert calls == [{"type": "TOKEN", "authorizationToken": "Bearer t", "methodArn": ARN}]
    (ctx, _), calls = _run(a, _ident({"authorization": "Bearer t"}), [], now=30)
    assert calls == [] and ctx["principalId"] == "user"  # served from the cache
    _, calls = _run(a, _ident({"authorization": "Bearer t"}), [_allow()], now=61)
    assert len(calls) == 1  # expired


def test_token_authorizer_failures() -> None:
    a = auth.LambdaAuthorizer(Authorizer("A", "arn", "Fn", validation_expression=r"Bearer .+", ttl_seconds=0),
                              "fn", "rest")
    for ident in (_ident(), _ident({"authorization": "Basic x"})):
        with pytest.raises(auth.Denied) as err:
            _run(a, ident, [])
        assert err.value.reply.status == 401
    cases = [(Exception("Unauthorized"), 401), (_allow("Deny"), 403), ({"principalId": "u"}, 500),
             (Exception("boom"), 500), (_allow(context={"nested": {"a": 1}}), 500)]
    for reply, status in cases:
        with pytest.raises(auth.Denied) as err:
            _run(a, _ident({"authorization": "Bearer t"}), [reply])
        assert err.value.reply.status == status, reply
    with pytest.raises(auth.Denied) as err:
        _run(a, _ident({"authorization": "Bearer t"}), [_allow("Deny")])
    assert b"explicit deny" in err.value.reply.body


def test_request_and_http_authorizers() -> None:
    rest = auth.LambdaAuthorizer(Authorizer("R", "arn", "Fn", type="REQUEST",
                                            identity_sources=("header:X-Token", "query:tok")), "fn", "rest")
    with pytest.raises(auth.Denied) as err:
        _run(rest, _ident({"x-token": "a"}), [])
    assert err.value.reply.status == 401
    _, calls = _run(rest, _ident({"x-token": "a"}, {"tok": "b"}), [_allow()])
    assert calls[0]["type"] == "REQUEST" and calls[0]["methodArn"] == ARN and calls[0]["resource"] == "/x"
    simple = auth.LambdaAuthorizer(Authorizer("H", "arn", "Fn", type="REQUEST", simple_responses=True,
                                              identity_sources=("$request.header.Authorization",), payload_format="2.0",
                                              ttl_seconds=0), "fn", "http")
    (ctx, _), calls = _run(simple, _ident({"authorization": "x"}), [{"isAuthorized": True, "context": {"u": "1"}}])
    assert ctx == {"lambda": {"u": "1"}} and calls[0]["routeArn"] == ARN and calls[0]["identitySource"] == ["x"]
    with pytest.raises(auth.Denied) as err:
        _run(simple, _ident({"authorization": "x"}), [{"isAuthorized": False}])
    assert err.value.reply.status == 403 and json.loads(err.value.reply.body) == {"message": "Forbidden"}


def test_api_keys() -> None:
    assert auth.check_api_key({"secret": "id1"}, "secret") == ("secret", "id1")
    for given in (None, "", "wrong"):
        with pytest.raises(auth.Denied) as err:
            auth.check_api_key({"secret": "id1"}, given)
        assert err.value.reply.status == 403 and json.loads(err.value.reply.body) == {"message": "Forbidden"}


def test_encode_event_falls_back_to_json_for_what_orjson_refuses() -> None:
    import json

    from samlite.services.apigateway.events import encode_event

    plain = {"a": [1, None, True], "b": "é"}
    assert json.loads(encode_event(plain)) == plain
    # An authorizer's context can carry what orjson refuses: a 65-bit integer, a lone surrogate.
    odd = {"requestContext": {"authorizer": {"big": 2**70, "s": "x\ud800"}}}
    assert json.loads(encode_event(odd)) == odd
