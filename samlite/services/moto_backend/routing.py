"""Which requests on the AWS endpoint belong to moto, and the AWS URL moto should see for them.

samlite's own services are recognised by SigV4 credential scope, X-Amz-Target prefix or path;
everything else (S3, DynamoDB, Secrets Manager, ...) is moto's. Only headers are needed, so the
choice is made before the body is read (S3 bodies get S3's size limit, not the endpoint's).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from samlite.core.http import Request

# Scope service -> the host prefix moto's URL patterns expect, where they differ.
_HOSTS = {"ses": "email"}
_CREDENTIAL = re.compile(r"Credential=[^/,]*/\d{8}/([^/,]+)/([^/,]+)/aws4_request")
_VIRTUAL_HOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.\-_]*)\.localhost(:\d+)?$", re.IGNORECASE)


def credential_scope(headers: dict[str, str], query: str) -> tuple[str, str] | None:
    """(region, service) from the Authorization header or a presigned URL's X-Amz-Credential."""
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if match:
        return match.group(1), match.group(2)
    if "X-Amz-Credential" in query:
        cred = dict(parse_qsl(query)).get("X-Amz-Credential", "")
        parts = cred.split("/")
        if len(parts) == 5:
            return parts[2], parts[3]
    return None


def virtual_bucket(host: str) -> str | None:
    """The bucket of a virtual-hosted S3 request (`<bucket>.localhost[:port]`)."""
    match = _VIRTUAL_HOST.match(host)
    return match.group("bucket") if match else None


def claims_unsigned(head: Request) -> bool:
    """Whether an unsigned request that names no service is moto's: a virtual-hosted bucket or a
    plain S3 path is; a query-protocol call stays samlite's (SQS)."""
    if virtual_bucket(head.header("host") or ""):
        return True
    return not (b"Action=" in head.query_string or (
        head.method == "POST" and "x-www-form-urlencoded" in (head.header("content-type") or "")))


def is_s3(headers: dict[str, str], query: str) -> bool:
    found = credential_scope(headers, query)
    if found:
        return found[1] == "s3"
    return not headers.get("x-amz-target")


def aws_url(raw_path: str, query: str, headers: dict[str, str], default_region: str) -> tuple[str, str]:
    """(url, host) on the AWS domain that moto's URL patterns route to the right backend."""
    found = credential_scope(headers, query)
    region, service = found if found else (default_region, "s3")
    target = headers.get("x-amz-target", "")
    if target.startswith("DynamoDBStreams"):
        host = f"streams.dynamodb.{region}.amazonaws.com"
    elif service == "s3" or (not found and not target):
        bucket = virtual_bucket(headers.get("host", ""))
        host = f"{bucket}.s3.amazonaws.com" if bucket else "s3.amazonaws.com"
    else:
        host = f"{_HOSTS.get(service, service)}.{region}.amazonaws.com"
    return f"https://{host}{raw_path}{'?' + query if query else ''}", host
