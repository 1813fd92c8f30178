"""The AWS Parameters and Secrets Lambda Extension, served by the engine.

A function with the extension's layer reads `http://localhost:2773/secretsmanager/get?secretId=..`
and `/systemsmanager/parameters/get?name=..` with the header `X-Aws-Parameters-Secrets-Token` set
to its AWS_SESSION_TOKEN. The extension answers with the GetSecretValue / GetParameter response
JSON. Here one server per engine listens on 127.0.0.1:2773 when that port is free, else on any
free port, which functions learn from PARAMETERS_SECRETS_EXTENSION_HTTP_PORT (the extension's own
setting). It is a proxy: each request becomes a SigV4-signed call to the engine's own AWS
endpoint, so the answers come from whatever serves Secrets Manager and SSM there, and their
errors pass through with their status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

from samlite.config import ACCESS_KEY_ID, SECRET_ACCESS_KEY

DEFAULT_PORT = 2773


class ParametersSecretsExtension:
    """The extension's HTTP API in front of the AWS endpoint at `aws_url`."""

    def __init__(self, aws_url: str, token: str, region: str) -> None:
        self.aws_url = aws_url.rstrip("/")
        self.token = token
        self.region = region
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        import uvicorn  # only engines whose functions use the extension pay for it here
        from uvicorn.server import ServerState

        self._config = uvicorn.Config(self.app, lifespan="off", log_level="warning", access_log=False,
                                      http="httptools", ws="none", server_header=False, interface="asgi3")
        self._config.load()
        self._state = ServerState()

    async def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:  # another engine (or the real thing) has it
            sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._server = await asyncio.get_running_loop().create_server(
            lambda: self._config.http_protocol_class(config=self._config, server_state=self._state,  # type: ignore
                                                     app_state={}), sock=sock)
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._state.connections):
            connection.shutdown()

    # -- ASGI --
    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        from urllib.parse import parse_qs

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        status, body = await self.answer(scope["method"], scope["path"], query,
                                         headers.get("x-aws-parameters-secrets-token"))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def answer(self, method: str, path: str, query: dict[str, str], token: str | None) -> tuple[int, bytes]:
        if method != "GET":
            return _error(405, "only GET is supported")
        if token is None:
            return _error(401, "missing X-Aws-Parameters-Secrets-Token header")
        if token != self.token:
            return _error(401, "invalid X-Aws-Parameters-Secrets-Token")
        if path == "/secretsmanager/get":
            if not query.get("secretId"):
                return _error(400, "secretId is required")
            request = {"SecretId": query["secretId"]}
            if query.get("versionId"):
                request["VersionId"] = query["versionId"]
            if query.get("versionStage"):
                request["VersionStage"] = query["versionStage"]
            return await asyncio.to_thread(self._call, "secretsmanager", "secretsmanager.GetSecretValue", request)
        if path == "/systemsmanager/parameters/get":
            name = query.get("name")
            if not name:
                return _error(400, "name is required")
            if query.get("version"):
                name = f"{name}:{query['version']}"
            elif query.get("label"):
                name = f"{name}:{query['label']}"
            decrypt = query.get("withDecryption", "false").lower() == "true"
            return await asyncio.to_thread(self._call, "ssm", "AmazonSSM.GetParameter",
                                           {"Name": name, "WithDecryption": decrypt})
        return _error(404, f"no such path {path}")

    def _call(self, service: str, target: str, request: dict[str, Any]) -> tuple[int, bytes]:
        """One signed JSON-protocol call to the AWS endpoint: (status, body) passed through."""
        import urllib.error
        import urllib.request

        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        body = json.dumps(request).encode()
        aws = AWSRequest(method="POST", url=self.aws_url + "/", data=body,
                         headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
        SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, self.token), service, self.region).add_auth(aws)
        http = urllib.request.Request(self.aws_url + "/", data=body, method="POST", headers=dict(aws.headers.items()))
        try:
            with urllib.request.urlopen(http, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            with contextlib.closing(exc):
                return exc.code, exc.read()
        except OSError as exc:
            return _error(502, f"the AWS endpoint is unreachable: {exc}")


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"message": message}).encode()
