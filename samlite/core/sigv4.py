"""AWS Signature Version 4 verification for the AWS endpoint and AWS_IAM function URLs.

A real check, not a header sniff: the canonical request is rebuilt from what arrived on the wire
(method, raw path, query, signed headers, payload hash), hashed into the string to sign, and
signed with the HMAC chain derived from the key's secret. Only the dummy credentials of
`samlite.config.CREDENTIALS` are known (samlite/samlite-secret, given to functions, and
test/test, the README's); any other key is "invalid", as AWS says for an unknown key. Both forms are accepted: the `Authorization` header and presigned query strings.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from samlite import config
from samlite.core.aws_api import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
MAX_SKEW_S = 15 * 60
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
BAD_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Caller:
    """Who signed the request (for requestContext.authorizer.iam of function URLs)."""

    access_key: str
    account_id: str
    region: str
    service: str

    def iam_context(self) -> dict[str, Any]:
        return {"accessKey": self.access_key, "accountId": self.account_id, "callerId": self.access_key,
                "cognitoIdentity": None, "principalOrgId": None,
                "userArn": f"arn:aws:iam::{self.account_id}:user/{self.access_key}", "userId": self.access_key}


def _incomplete(message: str) -> AwsError:
    return AwsError("IncompleteSignatureException", message, 403)


def _pairs(query: str) -> list[tuple[str, str]]:
    out = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            out.append((unquote(key), unquote(value)))
    return out


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_uri(raw_path: str) -> str:
    """botocore's form for non-S3 services: dot segments removed, then URI-encoded once more."""
    if not raw_path:
        return "/"
    parts: list[str] = []
    for seg in raw_path.split("/"):
        if seg == "..":
            if parts:
                parts.pop()
        elif seg and seg != ".":
            parts.append(seg)
    path = "/" + "/".join(parts)
    if raw_path.endswith("/") and path != "/":
        path += "/"
    return quote(path, safe="/~")


def _canonical_headers(headers: list[tuple[str, str]], signed: list[str]) -> str:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    lines = []
    for name in signed:
        if name not in values:
            raise AwsError("InvalidSignatureException", BAD_SIGNATURE, 403)
        lines.append(f"{name}:{','.join(values[name])}\n")
    return "".join(lines)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _parse_amz_date(value: str) -> float:
    try:
        return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{value}'.") from None


def verify(method: str, raw_path: str, query: str, headers: list[tuple[str, str]], body: bytes,
           *, now: float | None = None, service: str | None = None, region: str | None = None) -> Caller:
    """Check a SigV4-signed request; return the caller or raise AwsError (403).

    With `service` / `region`, the credential scope must name them, as AWS requires."""
    lower = {k.lower(): v for k, v in headers}
    pairs = _pairs(query)
    params = dict(pairs)
    presigned = "X-Amz-Signature" in params
    auth = lower.get("authorization")
    if presigned:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise _incomplete("Unsupported AWS 'algorithm': " + params.get("X-Amz-Algorithm", ""))
        credential = params.get("X-Amz-Credential", "")
        signed_headers = params.get("X-Amz-SignedHeaders", "")
        signature = params["X-Amz-Signature"]
        amz_date = params.get("X-Amz-Date", "")
        pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
        # botocore hashes the body for most services, S3-style presigners say UNSIGNED-PAYLOAD.
        payload_hashes = [lower["x-amz-content-sha256"]] if "x-amz-content-sha256" in lower else [
            hashlib.sha256(body).hexdigest(), UNSIGNED]
    elif auth:
        algorithm, _, rest = auth.partition(" ")
        if algorithm != ALGORITHM:
            raise _incomplete(f"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                              f" Authorization={auth}" if algorithm.startswith("AWS4") else
                              f"Unsupported AWS 'algorithm': {algorithm}")
        fields: dict[str, str] = {}
        for item in rest.split(","):
            key, _, value = item.strip().partition("=")
            fields[key] = value
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
        if missing:
            raise _incomplete(f"Authorization header requires '{missing[0]}' parameter. Authorization={auth}")
        credential, signed_headers, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
        amz_date = lower.get("x-amz-date", "")
        if not amz_date:
            raise _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        payload_hashes = [lower.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()]
    else:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)

    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _incomplete(f"Credential should be scoped to a valid region, not '{credential}'.")
    access_key, date, scope_region, scope_service, _ = scope
    secret = config.CREDENTIALS.get(access_key)
    if secret is None:
        raise AwsError("UnrecognizedClientException", BAD_TOKEN, 403)
    if service is not None and scope_service != service:
        raise AwsError("InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'. ",
                       403)
    if region is not None and scope_region != region:
        raise AwsError("InvalidSignatureException", f"Credential should be scoped to a valid region, not "
                       f"'{scope_region}'. ", 403)
    region, service = scope_region, scope_service
    signed = [h for h in signed_headers.lower().split(";") if h]
    if "host" not in signed:
        raise _incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    when = _parse_amz_date(amz_date)
    if not amz_date.startswith(date):
        raise AwsError("InvalidSignatureException", "Credential should be scoped to a valid date.", 403)
    current = time.time() if now is None else now
    if presigned:
        expires = params.get("X-Amz-Expires", "")
        if not expires.isdigit() or current > when + int(expires):
            raise AwsError("InvalidSignatureException", "Signature expired.", 403)
    elif abs(current - when) > MAX_SKEW_S:
        raise AwsError("InvalidSignatureException",
                       f"Signature expired: {amz_date} is now earlier than the allowed skew (15 minutes).", 403)
    body_hash = hashlib.sha256(body).hexdigest()
    if any(h != UNSIGNED and h != body_hash for h in payload_hashes):
        raise AwsError("InvalidSignatureException", BAD_SIGNATURE, 403)

    head = "\n".join((method.upper(), canonical_uri(raw_path), canonical_query(pairs),
                      _canonical_headers(headers, signed), ";".join(signed)))
    signing = signing_key(secret, date, region, service)
    for payload_hash in payload_hashes:
        canonical = f"{head}\n{payload_hash}"
        string_to_sign = "\n".join((ALGORITHM, amz_date, f"{date}/{region}/{service}/aws4_request",
                                    hashlib.sha256(canonical.encode()).hexdigest()))
        expected = hmac.new(signing, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            break
    else:
        raise AwsError("InvalidSignatureException", BAD_SIGNATURE, 403)
    return Caller(access_key, _account_of(), region, service)


def _account_of() -> str:
    return config.DEFAULT_ACCOUNT_ID


def verify_request(request: Any, settings: Any) -> Caller:
    """Verify an `http.Request` (the AWS endpoint's hook when settings.verify_sigv4 is on)."""
    raw_path = request.raw_path.decode("latin-1") if isinstance(request.raw_path, bytes) else request.raw_path
    query = request.query_string.decode("latin-1") if isinstance(request.query_string, bytes) else request.query_string
    caller = verify(request.method, raw_path, query, request.headers, request.body)
    return Caller(caller.access_key, settings.account_id, caller.region, caller.service)
