"""The control channel: JSON over HTTP on the engine's Unix socket (mode 0600).

The CLI calls `POST /call/<service>/<method>` with keyword arguments as a JSON object. Only
methods named `cli_<method>` on the engine's services are reachable, so each service declares its
own control surface next to its logic. Errors come back as `{"error": {type, message, hint,
exit_code}}` and the client re-raises them as SamliteError.
"""

from __future__ import annotations

import inspect
import json
import logging
from typing import Any

from samlite.core.http import (
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    read_request,
    respond_json,
)
from samlite.errors import SamliteError

log = logging.getLogger("samlite.engine")

class ControlApp:
    def __init__(self, targets: dict[str, Any]) -> None:
        self.targets = targets  # service name in the URL -> the object whose cli_* methods it serves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            request = await read_request(scope, receive, max_body=64 * 1024 * 1024)
        except BodyTooLarge:
            await respond_json(send, 413, _error("UsageError", "control request too large", 2))
            return
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "call" or parts[1] not in self.targets:
            await respond_json(send, 404, _error("NotFound", f"no control route {request.path}", 1))
            return
        _, service, method = parts
        fn = getattr(self.targets[service], f"cli_{method}", None)
        if fn is None:
            await respond_json(send, 404, _error("NotFound", f"no control method {service}.{method}", 1))
            return
        try:
            kwargs = json.loads(request.body or b"{}")
            if not isinstance(kwargs, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            await respond_json(send, 400, _error("UsageError", f"bad control request: {exc}", 2))
            return
        try:
            inspect.signature(fn).bind(**kwargs)
        except TypeError as exc:
            # Only a call that does not fit the method's signature is the caller's mistake.
            await respond_json(send, 400, _error("UsageError", f"bad arguments for {service}.{method}: {exc}", 2))
            return
        try:
            result = fn(**kwargs)
            if inspect.isawaitable(result):
                result = await result
        except SamliteError as exc:
            await respond_json(send, 200, _error(type(exc).__name__, exc.message, int(exc.exit_code), exc.hint))
            return
        except Exception as exc:  # report, keep the engine up
            log.exception("control call %s.%s failed", service, method)
            await respond_json(send, 500, _error("InternalError", f"{type(exc).__name__}: {exc}", 1))
            return
        await respond_json(send, 200, {"result": result})


def _error(kind: str, message: str, exit_code: int, hint: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "hint": hint, "exit_code": exit_code}}
