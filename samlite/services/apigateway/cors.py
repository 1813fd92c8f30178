"""CORS as API Gateway and function URLs apply it.

- REST (`AWS::Serverless::Api` `Cors`): SAM adds an OPTIONS *mock* method on each path that
  answers with the configured Access-Control-Allow-* headers, always (no Origin check). Proxy
  responses are NOT touched: the function must add its own headers.
- HTTP APIs (`CorsConfiguration`) and function URLs (`Cors`): the service answers preflight
  requests itself and adds the CORS headers to every response for an allowed Origin, replacing
  whatever CORS headers the function returned.
"""

from __future__ import annotations

from samlite.template.model import Cors

_CORS_PREFIX = "access-control-"


class RestCors:
    """The static headers of SAM's OPTIONS mock integration."""

    def __init__(self, cors: Cors) -> None:
        self.cors = cors

    def preflight_headers(self, methods: list[str]) -> list[tuple[str, str]]:
        c = self.cors
        # SAM's default Allow-Methods: the methods defined on the path, plus OPTIONS.
        allow_methods = ",".join(c.allow_methods) if c.allow_methods else ",".join(
            sorted(set(_expand_any(methods)) | {"OPTIONS"}))
        headers = [("Access-Control-Allow-Methods", allow_methods)]
        if c.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(c.allow_headers)))
        if c.allow_origins:
            headers.append(("Access-Control-Allow-Origin", ",".join(c.allow_origins)))
        if c.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(c.max_age)))
        if c.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers


def _expand_any(methods: list[str]) -> list[str]:
    out = []
    for m in methods:
        if m == "ANY":
            out += ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]
        else:
            out.append(m)
    return out


class HttpCors:
    """CorsConfiguration of an HTTP API or a function URL."""

    def __init__(self, cors: Cors) -> None:
        self.cors = cors
        self.origins = {o.rstrip("/").lower() for o in cors.allow_origins}
        self.any_origin = "*" in self.origins
        self.methods = {m.upper() for m in cors.allow_methods}
        self.any_method = not self.methods or "*" in self.methods
        self.headers = {h.lower() for h in cors.allow_headers}
        self.any_header = "*" in self.headers

    def _origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this request, or None when not allowed."""
        if not origin:
            return None
        if self.any_origin:
            return origin if self.cors.allow_credentials else "*"
        return origin if origin.rstrip("/").lower() in self.origins else None

    def is_preflight(self, method: str, origin: str | None, request_method: str | None) -> bool:
        return method == "OPTIONS" and bool(origin) and bool(request_method)

    def preflight(self, origin: str | None, request_method: str | None,
                  request_headers: str | None) -> list[tuple[str, str]]:
        """Headers of the 204 preflight answer (empty when the origin/method is not allowed)."""
        allowed = self._origin(origin)
        if allowed is None or not request_method:
            return []
        if not self.any_method and request_method.upper() not in self.methods:
            return []
        out = [("access-control-allow-origin", allowed)]
        out.append(("access-control-allow-methods",
                     request_method.upper() if self.any_method else ",".join(sorted(self.methods))))
        if request_headers:
            asked = [h.strip().lower() for h in request_headers.split(",") if h.strip()]
            if self.any_header:
                out.append(("access-control-allow-headers", ",".join(asked)))
            else:
                ok = [h for h in asked if h in self.headers]
                if ok:
                    out.append(("access-control-allow-headers", ",".join(ok)))
        if self.cors.allow_credentials:
            out.append(("access-control-allow-credentials", "true"))
        if self.cors.max_age is not None:
            out.append(("access-control-max-age", str(self.cors.max_age)))
        return out

    def apply(self, origin: str | None, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The response headers with the function's CORS headers replaced by the configured ones."""
        allowed = self._origin(origin)
        out = [(k, v) for k, v in headers if not k.lower().startswith(_CORS_PREFIX)]
        if allowed is None:
            return out
        out.append(("access-control-allow-origin", allowed))
        if self.cors.allow_credentials:
            out.append(("access-control-allow-credentials", "true"))
        if self.cors.expose_headers:
            out.append(("access-control-expose-headers", ",".join(self.cors.expose_headers)))
        if allowed != "*":
            out.append(("vary", "Origin"))
        return out
