"""SigV4 verification against requests signed by botocore itself (the real client is the judge)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from samlite import config
from samlite.core.aws_api import AwsError
from samlite.core.sigv4 import canonical_uri, verify

GOOD = Credentials(config.ACCESS_KEY_ID, config.SECRET_ACCESS_KEY)


def _signed(url: str, method: str = "POST", body: bytes = b'{"a": 1}', creds: Credentials = GOOD,
            headers: dict[str, str] | None = None, service: str = "lambda", presign: bool = False) -> tuple:
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {"Content-Type": "application/json"})
    if presign:
        SigV4QueryAuth(creds, service, "us-east-1", expires=60).add_auth(req)
    else:
        SigV4Auth(creds, service, "us-east-1").add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    hdrs = [(k.lower(), v if isinstance(v, str) else v.decode()) for k, v in prepared.headers.items()]
    if not any(k == "host" for k, _ in hdrs):
        hdrs.append(("host", parts.netloc))
    return method, parts.path, parts.query, hdrs, body


def test_botocore_signature_verifies() -> None:
    caller = verify(*_signed("http://127.0.0.1:3000/_url/abc/items/x?b=2&a=1&a=0"))
    assert caller.access_key == config.ACCESS_KEY_ID and caller.service == "lambda"
    assert caller.iam_context()["accessKey"] == config.ACCESS_KEY_ID


def test_encoded_path_and_query_verify() -> None:
    verify(*_signed("http://127.0.0.1:3000/_url/abc/a%20b/c%2Fd?q=hello%20world&e=", method="GET", body=b""))


def test_presigned_query_verifies() -> None:
    verify(*_signed("http://127.0.0.1:3000/_url/abc/x?z=1", method="GET", body=b"", presign=True))


def test_unsigned_payload_header_is_accepted() -> None:
    method, path, query, headers, body = _signed(
        "http://127.0.0.1:3000/x", headers={"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
    verify(method, path, query, headers, b"a body that was not hashed")


def test_tampered_body_is_rejected() -> None:
    method, path, query, headers, _ = _signed("http://127.0.0.1:3000/x")
    with pytest.raises(AwsError) as err:
        verify(method, path, query, headers, b'{"a": 2}')
    assert err.value.code == "InvalidSignatureException" and err.value.status == 403


def test_tampered_path_query_and_method_are_rejected() -> None:
    method, path, query, headers, body = _signed("http://127.0.0.1:3000/x?a=1")
    for args in ((method, "/y", query, headers, body), (method, path, "a=2", headers, body),
                 ("PUT", path, query, headers, body)):
        with pytest.raises(AwsError) as err:
            verify(*args)
        assert err.value.code == "InvalidSignatureException"


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(AwsError) as err:
        verify(*_signed("http://127.0.0.1:3000/x", creds=Credentials(config.ACCESS_KEY_ID, "other")))
    assert err.value.code == "InvalidSignatureException"


def test_unknown_access_key_is_invalid_token() -> None:
    with pytest.raises(AwsError) as err:
        verify(*_signed("http://127.0.0.1:3000/x", creds=Credentials("AKIAOTHER", config.SECRET_ACCESS_KEY)))
    assert err.value.code == "UnrecognizedClientException"
    assert err.value.message == "The security token included in the request is invalid."


def test_missing_and_incomplete_authorization() -> None:
    with pytest.raises(AwsError) as err:
        verify("GET", "/x", "", [("host", "h")], b"")
    assert err.value.code == "MissingAuthenticationTokenException" and err.value.status == 403
    with pytest.raises(AwsError) as err:
        verify("GET", "/x", "", [("host", "h"), ("authorization", "AWS4-HMAC-SHA256 Credential=a/b")], b"")
    assert err.value.code == "IncompleteSignatureException"


def test_old_signature_is_expired() -> None:
    signed = _signed("http://127.0.0.1:3000/x")
    with pytest.raises(AwsError) as err:
        verify(*signed, now=time.time() + 3600)
    assert "expired" in err.value.message


def test_canonical_uri_normalises_and_double_encodes() -> None:
    assert canonical_uri("/a/./b/../c/") == "/a/c/"
    assert canonical_uri("/a%20b") == "/a%2520b"
    assert canonical_uri("") == "/"
