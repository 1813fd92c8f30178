"""Who may call the AWS endpoint: SDKs and the aws CLI, not a web page the user happens to visit.

A page can POST a form or `text/plain` to http://127.0.0.1:3001 without any CORS preflight, so an
endpoint that accepts unsigned requests lets any website send messages or invoke functions. A
browser cannot add an `Authorization` header to such a request, and it marks what it sends with
`Origin` / `Sec-Fetch-Site`; boto3, the SDKs and the aws CLI always sign and never send those.

SAMLITE_VERIFY_SIGV4: unset = a SigV4 signature must be present (not checked: any key works, as on
other emulators); `1` = the signature is verified against the known dummy credentials; `0` =
unsigned and browser requests are accepted (the old behaviour).
"""

from __future__ import annotations

from typing import Any

from samlite.core.aws_api import AwsError

OPT_OUT = "set SAMLITE_VERIFY_SIGV4=0 on the engine to accept them"


def check_caller(request: Any, settings: Any, verify: bool = True) -> None:
    """Raise AwsError (403) for a request the endpoint must not serve. `verify=False` leaves the
    signature check (which needs the body) to whoever reads the body."""
    if not settings.require_signed:
        return
    site = request.header("sec-fetch-site")
    if request.header("origin") is not None or (site is not None and site != "none"):
        raise AwsError("AccessDeniedException",
                       f"Requests from a web browser are refused by the local AWS endpoint; {OPT_OUT}.", 403)
    if settings.verify_sigv4 and verify:
        from samlite.core.sigv4 import verify_request

        verify_request(request, settings)
        return
    if request.method == "GET" and request.path.startswith("/2015-03-31/functions/") and \
            request.path.endswith("/code.zip"):
        return  # GetFunction's Code.Location: on AWS a presigned URL, fetched without signing
    auth = request.header("authorization") or ""
    query = request.query_string
    # Presigned URLs: SigV4's X-Amz-Signature, or SigV2's AWSAccessKeyId + Signature (S3's default).
    if not auth.startswith("AWS4-HMAC-SHA256 ") and b"X-Amz-Signature=" not in query and \
            b"AWSAccessKeyId=" not in query:
        raise AwsError("MissingAuthenticationTokenException",
                       f"Missing Authentication Token: the local AWS endpoint takes SigV4-signed requests "
                       f"(boto3, the SDKs, the aws CLI); {OPT_OUT}.", 403,
                       query_code="MissingAuthenticationToken")
