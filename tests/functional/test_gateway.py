"""The HTTP front door against a real engine: REST and HTTP APIs, function URLs, auth, CORS, bad input.

One engine serves the whole module (deploys are the slow part). It first deploys a one-API stack
to check the bare `http://127.0.0.1:{port}/{stage}/...` form (only offered while exactly one API
is deployed), then the main stack in tests/functional/stacks/gateway.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from samlite.testing import EngineHandle

STACKS = Path(__file__).parent / "stacks"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    handle = EngineHandle(tmp_path_factory.mktemp("gw") / "home").start()
    try:
        handle.deploy(STACKS / "gateway_one" / "template.yaml", "one")
        port = urlsplit(handle.gateway_url).port
        single = requests.get(f"http://127.0.0.1:{port}/Prod/hello", timeout=10)
        one_outputs = handle.outputs("one")
        handle.deploy(STACKS / "gateway" / "template.yaml", "main")
        eps = {e["resource"]: e for e in handle.endpoints("main")}
        session = requests.Session()
        yield SimpleNamespace(engine=handle, port=port, single=single, one_outputs=one_outputs, eps=eps,
                              rest=eps["RestApi"]["url"], http=eps["HttpApi"]["url"],
                              url=eps["BehaveUrl"]["url"], iam=eps["IamEchoUrl"]["url"], s=session)
    finally:
        handle.stop()
        handle.kill()


def _json(r: requests.Response) -> Any:
    return json.loads(r.text)


# --- URL forms and Outputs -------------------------------------------------------------------
def test_single_api_bare_form_and_outputs(gw: SimpleNamespace) -> None:
    assert gw.single.status_code == 200 and gw.single.text == "hello /hello"
    value = gw.one_outputs["HelloApi"]
    assert value.startswith("http://127.0.0.1:") and "/_api/" in value and value.endswith("/Prod/hello/")
    assert gw.s.get(value.rstrip("/")).text == "hello /hello"
    # Two APIs are deployed now: the bare form is ambiguous and answers 404.
    assert gw.s.get(f"http://127.0.0.1:{gw.port}/Prod/hello").status_code == 404


def test_outputs_rewritten_to_local_urls(gw: SimpleNamespace) -> None:
    out = gw.engine.outputs("main")
    r = gw.s.get(out["RestUrl"])
    assert r.status_code == 200 and _json(r)["pathParameters"] == {"id": "1"}
    assert gw.s.get(out["HttpUrl"] + "items/5").status_code == 200
    assert gw.s.get(out["BehaveUrl"]).text == "ok"


def test_host_based_routing(gw: SimpleNamespace) -> None:
    api_id = gw.eps["RestApi"]["api_id"]
    r = gw.s.get(f"http://127.0.0.1:{gw.port}/Prod/items/9",
                 headers={"Host": f"{api_id}.execute-api.localhost:{gw.port}"})
    assert r.status_code == 200 and _json(r)["path"] == "/items/9"
    http_id = gw.eps["HttpApi"]["api_id"]
    r = gw.s.get(f"http://127.0.0.1:{gw.port}/items/3", headers={"Host": f"{http_id}.execute-api.localhost"})
    assert r.status_code == 200 and _json(r)["rawPath"] == "/items/3"


# --- REST payload 1.0 ------------------------------------------------------------------------
def test_rest_event_fields(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.rest + "items/42?q=first&q=last&e=a%20b", headers={"X-Multi": "v", "User-Agent": "t/1"})
    assert r.status_code == 200
    assert r.headers["x-amzn-RequestId"] and r.headers["Content-Type"] == "application/json"
    e = _json(r)
    assert e["resource"] == "/items/{id}" and e["path"] == "/items/42" and e["httpMethod"] == "GET"
    assert e["headers"]["X-Multi"] == "v" and e["headers"]["User-Agent"] == "t/1"
    assert e["headers"]["X-Forwarded-Proto"] == "http" and e["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert e["headers"]["X-Forwarded-Port"] == str(gw.port)
    assert e["multiValueHeaders"]["X-Multi"] == ["v"]
    assert e["queryStringParameters"] == {"q": "last", "e": "a b"}
    assert e["multiValueQueryStringParameters"] == {"q": ["first", "last"], "e": ["a b"]}
    assert e["pathParameters"] == {"id": "42"} and e["stageVariables"] == {"env": "test"}
    assert e["body"] is None and e["isBase64Encoded"] is False
    rc = e["requestContext"]
    assert rc["path"] == "/Prod/items/42" and rc["stage"] == "Prod" and rc["resourcePath"] == "/items/{id}"
    assert rc["httpMethod"] == "GET" and rc["accountId"] == "123456789012"
    assert rc["apiId"] == gw.eps["RestApi"]["api_id"] and rc["requestId"] == r.headers["x-amzn-RequestId"]
    assert rc["identity"]["sourceIp"] == "127.0.0.1" and rc["identity"]["userAgent"] == "t/1"
    assert abs(rc["requestTimeEpoch"] - time.time() * 1000) < 60_000
    time.strptime(rc["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")


def _both_lanes(gw: SimpleNamespace, url: str, headers: dict[str, str]) -> tuple[Any, Any]:
    """(event from the direct lane, event from the ASGI lane): a warm plain request answers from
    the direct lane; a chunked body always takes the ASGI lane (http.DirectHttpProtocol)."""
    gw.s.get(url, headers=headers)  # warm
    direct = _json(gw.s.get(url, headers=headers))
    asgi = _json(gw.s.get(url, headers=headers, data=iter([b""])))  # Transfer-Encoding: chunked
    return direct, asgi


def _stable(event: dict[str, Any], volatile: tuple[str, ...], chunked_header: str) -> dict[str, Any]:
    """The event without its per-request ids and times and the ASGI lane's Transfer-Encoding."""
    event = json.loads(json.dumps(event))
    for key in volatile:
        event["requestContext"].pop(key)
    for headers in ("headers", "multiValueHeaders"):
        event.get(headers, {}).pop(chunked_header, None)
    return event


def test_direct_and_asgi_lanes_build_the_same_event(gw: SimpleNamespace) -> None:
    direct, asgi = _both_lanes(gw, gw.rest + "items/7?q=a&q=b", {"X-Multi": "v", "User-Agent": "t/1"})
    assert "Transfer-Encoding" in asgi["headers"] and "Transfer-Encoding" not in direct["headers"]
    volatile = ("requestId", "extendedRequestId", "requestTime", "requestTimeEpoch")
    assert _stable(direct, volatile, "Transfer-Encoding") == _stable(asgi, volatile, "Transfer-Encoding")


def test_function_url_lanes_build_the_same_event(gw: SimpleNamespace) -> None:
    direct, asgi = _both_lanes(gw, gw.url + "p/q?mode=echo&x=1", {"X-Multi": "v", "Cookie": "a=1; b=2"})
    assert direct["rawPath"] == "/p/q" and direct["cookies"] == ["a=1", "b=2"]
    assert "transfer-encoding" in asgi["headers"]
    volatile = ("requestId", "time", "timeEpoch")
    assert _stable(direct, volatile, "transfer-encoding") == _stable(asgi, volatile, "transfer-encoding")


def test_client_forwarded_for_is_appended_not_trusted(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.rest + "items/1", headers={"X-Forwarded-For": "1.2.3.4"})
    e = _json(r)
    assert e["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert e["headers"]["X-Forwarded-For"] == "1.2.3.4, 127.0.0.1"


def test_rest_proxy_and_nulls(gw: SimpleNamespace) -> None:
    e = _json(gw.s.post(gw.rest + "a/b/c", data="text body", headers={"Content-Type": "text/plain"}))
    assert e["resource"] == "/{proxy+}" and e["pathParameters"] == {"proxy": "a/b/c"}
    assert e["httpMethod"] == "POST" and e["body"] == "text body" and e["isBase64Encoded"] is False
    assert e["queryStringParameters"] is None and e["multiValueQueryStringParameters"] is None


def test_rest_binary_round_trip(gw: SimpleNamespace) -> None:
    blob = bytes(range(256)) * 4
    r = gw.s.post(gw.rest + "bin?mode=roundtrip", data=blob,
                  headers={"Content-Type": "image/png", "Accept": "image/png"})
    assert r.status_code == 200 and r.content == blob
    r = gw.s.get(gw.rest + "behave?mode=binary", headers={"Accept": "image/png"})
    assert r.content == b"\x89PNG\x00\xff" and r.headers["Content-Type"] == "image/png"


def test_rest_response_mapping(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.rest + "behave?mode=multi")
    assert r.status_code == 200 and r.text == "m" and r.headers["X-One"] == "h"
    assert r.raw.headers.getlist("X-Both") == ["m1", "m2"]


def test_function_headers_cannot_break_framing(gw: SimpleNamespace) -> None:
    for base in (gw.rest, gw.http):
        r = gw.s.get(base + "behave?mode=badheaders")
        assert r.status_code == 200 and r.text == "b" and r.headers["X-Good"] == "ok"
        assert "X-Injected" not in r.headers and "X-Bad" not in r.headers and "Bad Name" not in r.headers
        assert r.headers["Content-Length"] == "1" and r.headers["X-Euro"] == "5 ?"


@pytest.mark.parametrize("mode", ["malformed", "error", "large"])
def test_rest_function_failures_are_502(gw: SimpleNamespace, mode: str) -> None:
    r = gw.s.get(gw.rest + f"behave?mode={mode}")
    assert r.status_code == 502 and _json(r) == {"message": "Internal server error"}


def test_worker_dying_under_a_warm_request_is_a_502_and_the_next_cold_start_serves(gw: SimpleNamespace) -> None:
    assert gw.s.get(gw.rest + "behave").status_code == 200  # warm: the next request takes the direct lane
    r = gw.s.get(gw.rest + "behave?mode=crash")
    assert r.status_code == 502 and _json(r) == {"message": "Internal server error"}
    assert gw.s.get(gw.rest + "behave").text == "ok"


def test_rest_unknown_route_and_stage(gw: SimpleNamespace) -> None:
    # ANY /{proxy+} catches every path but the root, which has no method.
    for url in (gw.rest, gw.rest.replace("/Prod/", "/Dev/") + "items/1"):
        r = gw.s.get(url)
        assert r.status_code == 403 and _json(r) == {"message": "Missing Authentication Token"}
    r = gw.s.get(f"http://127.0.0.1:{gw.port}/_api/nosuchapi/Prod/x")
    assert r.status_code == 404


def test_rest_cors_preflight_mock_only(gw: SimpleNamespace) -> None:
    r = gw.s.options(gw.rest + "items/1", headers={"Origin": "https://x.example",
                                                    "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Token"
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    # Proxy responses are untouched: the function must add CORS headers itself.
    r = gw.s.get(gw.rest + "items/1", headers={"Origin": "https://x.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


# --- API keys and authorizers ----------------------------------------------------------------
def test_api_keys(gw: SimpleNamespace) -> None:
    keys = json.loads(gw.engine.cli("list", "api-keys", "--output", "json", check=True).stdout)
    key = next(k for k in keys if k["api_id"] == gw.eps["RestApi"]["api_id"])
    for headers in ({}, {"x-api-key": "wrong"}):
        r = gw.s.get(gw.rest + "keyed", headers=headers)
        assert r.status_code == 403 and _json(r) == {"message": "Forbidden"}
    r = gw.s.get(gw.rest + "keyed", headers={"x-api-key": key["value"]})
    assert r.status_code == 200
    identity = _json(r)["requestContext"]["identity"]
    assert identity["apiKey"] == key["value"] and identity["apiKeyId"] == key["id"]


def test_token_authorizer(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.rest + "secure", headers={"Authorization": "Bearer allow"})
    assert r.status_code == 200
    ctx = _json(r)["requestContext"]["authorizer"]
    assert ctx["principalId"] == "user-1" and ctx["flag"] is True
    again = _json(gw.s.get(gw.rest + "secure", headers={"Authorization": "Bearer allow"}))
    assert again["requestContext"]["authorizer"]["calls"] == ctx["calls"]  # cached by token
    r = gw.s.get(gw.rest + "secure", headers={"Authorization": "Bearer deny"})
    assert r.status_code == 403 and "explicit deny" in _json(r)["Message"]
    for headers in ({}, {"Authorization": "Basic x"}, {"Authorization": "Bearer nope"}):
        r = gw.s.get(gw.rest + "secure", headers=headers)
        assert r.status_code == 401 and _json(r) == {"message": "Unauthorized"}, headers
    r = gw.s.get(gw.rest + "secure", headers={"Authorization": "Bearer boom"})
    assert r.status_code == 500


def test_request_authorizer(gw: SimpleNamespace) -> None:
    assert gw.s.get(gw.rest + "req").status_code == 401
    r = gw.s.get(gw.rest + "req", headers={"X-User": "allow"})
    assert r.status_code == 200 and _json(r)["requestContext"]["authorizer"]["principalId"] == "user-1"
    assert gw.s.get(gw.rest + "req", headers={"X-User": "deny"}).status_code == 403


def test_http_simple_authorizer(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.http + "authz")
    assert r.status_code == 401 and _json(r) == {"message": "Unauthorized"}
    r = gw.s.get(gw.http + "authz", headers={"Authorization": "nope"})
    assert r.status_code == 403 and _json(r) == {"message": "Forbidden"}
    r = gw.s.get(gw.http + "authz", headers={"Authorization": "letmein"})
    assert r.status_code == 200 and _json(r)["requestContext"]["authorizer"] == {"lambda": {"who": "http-user"}}


# --- HTTP API payload 2.0 --------------------------------------------------------------------
def test_http_event_fields(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.http + "items/42?q=first&q=last", headers={"X-Multi": "a", "Cookie": "c1=1; c2=2"})
    assert r.status_code == 200 and r.headers["Apigw-Requestid"]
    e = _json(r)
    assert e["version"] == "2.0" and e["routeKey"] == "GET /items/{id}" and e["rawPath"] == "/items/42"
    assert e["rawQueryString"] == "q=first&q=last" and e["queryStringParameters"] == {"q": "first,last"}
    assert e["cookies"] == ["c1=1", "c2=2"] and e["headers"]["x-multi"] == "a"
    assert e["pathParameters"] == {"id": "42"} and "body" not in e and "stageVariables" not in e
    rc = e["requestContext"]
    assert rc["stage"] == "$default" and rc["http"]["method"] == "GET" and rc["http"]["path"] == "/items/42"
    assert rc["routeKey"] == "GET /items/{id}" and rc["apiId"] == gw.eps["HttpApi"]["api_id"]


def test_http_default_route_on_named_stage(gw: SimpleNamespace) -> None:
    base = gw.eps["StagedApi"]["url"]
    assert base.endswith("/dev/")
    e = _json(gw.s.post(base + "any/thing?x=1", data="hi", headers={"Content-Type": "text/plain"}))
    assert e["routeKey"] == "$default" and e["requestContext"]["routeKey"] == "$default"
    assert e["rawPath"] == "/dev/any/thing" and e["requestContext"]["stage"] == "dev"
    assert e["stageVariables"] == {"color": "blue"} and e["body"] == "hi" and "pathParameters" not in e
    assert gw.s.get(base.replace("/dev/", "/prod/") + "x").status_code == 404


def test_http_payload_1_route(gw: SimpleNamespace) -> None:
    e = _json(gw.s.get(gw.http + "v1/7"))
    assert e["version"] == "1.0" and e["resource"] == "/v1/{id}" and e["pathParameters"] == {"id": "7"}
    assert "multiValueHeaders" in e


def test_http_response_inference_and_cookies(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.http + "behave?mode=dict")
    assert r.status_code == 200 and r.json() == {"hello": "world"} and r.headers["content-type"] == "application/json"
    assert gw.s.get(gw.http + "behave?mode=string").text == "plain text"
    r = gw.s.get(gw.http + "behave?mode=cookies")
    assert r.status_code == 201 and r.text == "c" and r.raw.headers.getlist("set-cookie") == ["a=1", "b=2"]
    r = gw.s.get(gw.http + "behave?mode=binary")
    assert r.content == b"\x89PNG\x00\xff"
    blob = bytes(range(256))
    r = gw.s.post(gw.http + "behave?mode=roundtrip", data=blob, headers={"Content-Type": "application/octet-stream"})
    assert r.content == blob


@pytest.mark.parametrize("mode", ["error", "large"])
def test_http_function_failures_are_500(gw: SimpleNamespace, mode: str) -> None:
    r = gw.s.get(gw.http + f"behave?mode={mode}")
    assert r.status_code == 500 and _json(r) == {"message": "Internal Server Error"}


def test_http_integration_timeout_is_503(gw: SimpleNamespace) -> None:
    started = time.monotonic()
    r = gw.s.get(gw.http + "behave?mode=sleep")
    assert r.status_code == 503 and _json(r) == {"message": "Service Unavailable"}
    assert time.monotonic() - started < 1.9  # answered at the 1 s integration timeout


def test_http_unknown_route_and_throttle(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.http + "nothing/here")
    assert r.status_code == 404 and _json(r) == {"message": "Not Found"}
    r = gw.s.get(gw.http + "throttled")
    assert r.status_code == 429 and _json(r) == {"message": "Too Many Requests"}


def test_http_cors(gw: SimpleNamespace) -> None:
    r = gw.s.options(gw.http + "items/1", headers={"Origin": "https://ok.example",
                                                  "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "x-custom"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://ok.example"
    assert r.headers["access-control-allow-headers"] == "x-custom" and r.headers["access-control-max-age"] == "60"
    bad = gw.s.options(gw.http + "items/1", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in bad.headers
    r = gw.s.get(gw.http + "behave?mode=cors", headers={"Origin": "https://ok.example"})
    assert r.headers["access-control-allow-origin"] == "https://ok.example"
    assert r.headers["access-control-expose-headers"] == "x-request-id"
    r = gw.s.get(gw.http + "behave?mode=cors")
    assert "access-control-allow-origin" not in r.headers  # the function's own value is dropped


# --- function URLs ---------------------------------------------------------------------------
def test_function_url_none(gw: SimpleNamespace) -> None:
    r = gw.s.get(gw.url + "any/path?mode=dict")
    assert r.status_code == 200 and r.json() == {"hello": "world"}
    assert gw.s.delete(gw.url + "x?mode=error").status_code == 500
    r = gw.s.options(gw.url, headers={"Origin": "https://ok.example", "Access-Control-Request-Method": "PUT"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "https://ok.example"


def _signed(url: str, secret: str = "samlite-secret", service: str = "lambda", key: str = "samlite",
            region: str = "us-east-1") -> requests.PreparedRequest:
    aws = AWSRequest(method="POST", url=url, data=b'{"x": 1}', headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), service, region).add_auth(aws)
    p = aws.prepare()
    return requests.Request("POST", p.url, data=p.body, headers=dict(p.headers)).prepare()


def test_function_url_iam(gw: SimpleNamespace) -> None:
    r = gw.s.post(gw.iam + "p?a=1", json={"x": 1})
    assert r.status_code == 403 and _json(r) == {"Message": "Forbidden"}
    r = gw.s.send(_signed(gw.iam + "p?a=1", secret="wrong"))
    assert r.status_code == 403
    r = gw.s.send(_signed(gw.iam + "p?a=1"))
    assert r.status_code == 200, r.text
    e = _json(r)
    assert e["requestContext"]["authorizer"]["iam"]["accessKey"] == "samlite"
    assert e["requestContext"]["accountId"] == "123456789012" and e["routeKey"] == "$default"
    assert e["rawPath"] == "/p" and e["body"] == '{"x": 1}' and "pathParameters" not in e
    # The anonymous URL says so.
    assert _json(gw.s.get(gw.eps["BehaveUrl"]["url"] + "?mode=dict")) == {"hello": "world"}


def test_function_url_iam_credentials_and_scope(gw: SimpleNamespace) -> None:
    # the README's test/test credentials work
    r = gw.s.send(_signed(gw.iam + "p", key="test", secret="test"))
    assert r.status_code == 200, r.text
    assert _json(r)["requestContext"]["authorizer"]["iam"]["accessKey"] == "test"
    # a signature scoped to another service or region is refused with AWS's message
    r = gw.s.send(_signed(gw.iam + "p", service="s3"))
    assert r.status_code == 403 and _json(r) == {"Message": "Credential should be scoped to correct service: 'lambda'. "}
    r = gw.s.send(_signed(gw.iam + "p", region="eu-west-1"))
    assert r.status_code == 403 and "scoped to a valid region" in _json(r)["Message"]


def test_rest_aws_iam_route(gw: SimpleNamespace) -> None:
    r = gw.s.post(gw.rest + "iam", json={"x": 1})
    assert r.status_code == 403 and _json(r) == {"message": "Missing Authentication Token"}
    r = gw.s.send(_signed(gw.rest + "iam", secret="wrong", service="execute-api"))
    assert r.status_code == 403 and "signature" in _json(r)["message"]
    r = gw.s.send(_signed(gw.rest + "iam?z=1", service="execute-api"))
    assert r.status_code == 200, r.text
    identity = _json(r)["requestContext"]["identity"]
    assert identity["accessKey"] == "samlite" and identity["accountId"] == "123456789012"
    assert identity["userArn"].endswith(":user/samlite")


# --- bad input and robustness ----------------------------------------------------------------
def _raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def test_bad_paths_are_400(gw: SimpleNamespace) -> None:
    base = urlsplit(gw.rest).path
    for bad in (b"items/%zz", b"items/%ff", b"items/%e2%82"):
        reply = _raw(gw.port, b"GET " + base.encode() + bad + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400"), (bad, reply[:100])


def test_body_over_10mb_is_413_without_reading_it(gw: SimpleNamespace) -> None:
    path = urlsplit(gw.rest).path + "items/1"
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {11 * 1024 * 1024}\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()
    started = time.monotonic()
    reply = _raw(gw.port, head + b"x" * 1000)
    assert reply.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 3
    r = gw.s.post(gw.http + "behave", data=b"y" * (10 * 1024 * 1024 + 1))
    assert r.status_code == 413 and _json(r) == {"message": "Request Entity Too Large"}
    # Under API Gateway's 10 MB but over Lambda's 6 MB synchronous payload limit.
    r = gw.s.post(gw.rest + "items/1", data=b"z" * (7 * 1024 * 1024), headers={"Content-Type": "text/plain"})
    assert r.status_code == 413 and _json(r) == {"message": "Request Too Long"}
    assert gw.s.get(gw.rest + "items/1").status_code == 200


def test_oversized_headers_do_not_hurt_the_server(gw: SimpleNamespace) -> None:
    try:
        r = requests.get(gw.rest + "items/1", headers={"X-Big": "a" * 200_000}, timeout=10)
        assert r.status_code in (400, 431, 413) or r.status_code == 200
    except requests.ConnectionError:
        pass  # the server may simply close the connection
    assert gw.s.get(gw.rest + "items/1").status_code == 200


def test_slow_client_does_not_block_others(gw: SimpleNamespace) -> None:
    path = urlsplit(gw.rest).path + "items/1"
    with socket.create_connection(("127.0.0.1", gw.port)) as slow:
        slow.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf".encode())
        started = time.monotonic()
        r = requests.get(gw.rest + "items/2", timeout=5)
        assert r.status_code == 200 and time.monotonic() - started < 1.0
    with socket.create_connection(("127.0.0.1", gw.port)) as aborted:
        aborted.sendall(f"GET {path} HTTP/1.1\r\nHo".encode())
    assert gw.s.get(gw.rest + "items/3").status_code == 200


# --- SigV4 on the AWS endpoint (settings.verify_sigv4) ----------------------------------------
def test_aws_endpoint_verifies_sigv4_when_enabled(tmp_path: Path) -> None:
    import boto3
    from botocore.config import Config

    handle = EngineHandle(tmp_path / "home", extra_env={"SAMLITE_VERIFY_SIGV4": "1"}).start()
    try:
        sqs = handle.client("sqs")
        url = sqs.create_queue(QueueName="signed")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="h\u00e9llo & = + /")
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "h\u00e9llo & = + /"
        assert handle.client("lambda").list_functions()["Functions"] == []
        for key, secret in (("samlite", "wrong"), ("AKIAOTHER", "samlite-secret")):
            bad = boto3.client("sqs", endpoint_url=handle.aws_url, region_name="us-east-1", aws_access_key_id=key,
                               aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))
            with pytest.raises(bad.exceptions.ClientError) as err:
                bad.list_queues()
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        unsigned = requests.post(handle.aws_url, data="Action=ListQueues",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert unsigned.status_code == 403
    finally:
        handle.stop()
        handle.kill()
