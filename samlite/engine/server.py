"""The engine process: binds the ports, owns the store and every service, shuts down gracefully.

One asyncio loop runs three uvicorn servers (gateway, AWS endpoint, control socket) and all the
background services (workers, ESM pollers, async dispatcher). Start-up order matters: ports are
bound first so their real numbers (port 0 = any) are known before functions get
`AWS_ENDPOINT_URL`; the deployed state is then restored from the store.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import uvicorn

from samlite import __version__
from samlite.config import Settings
from samlite.core.http import http_protocol
from samlite.core.store import Store
from samlite.engine.lifecycle import make_private, prepare_home, raise_open_file_limit
from samlite.errors import SamliteError, StateError

log = logging.getLogger("samlite.engine")


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.store: Store | None = None
        self.functions: dict[str, Any] = {}  # physical name -> runtime.FunctionSpec
        self.gateway_url = ""
        self.aws_url = ""
        self._servers: list[uvicorn.Server] = []
        self._sockets: list[socket.socket] = []
        self._stop = asyncio.Event()
        self._lock_fd: int | None = None
        self.deploying: set[str] = set()
        self.console_token = ""

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        settings = self.settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self.store = Store(settings.db_path, background_checkpoints=True)
        gateway_sock = _tcp_socket(settings.host, settings.gateway_port)
        aws_sock = _tcp_socket(settings.host, settings.aws_port)
        control_sock = _unix_socket(settings.control_socket)
        self._sockets = [gateway_sock, aws_sock, control_sock]
        self.gateway_url = _url(settings.host, gateway_sock.getsockname()[1])
        self.aws_url = _url(settings.host, aws_sock.getsockname()[1])

        # Imported here so that `python -m samlite.engine --help`-style paths stay light.
        from samlite.core.endpoint import AwsApp
        from samlite.core.invoke import InvokeService
        from samlite.core.stacks import StackCatalog
        from samlite.engine.control import ControlApp
        from samlite.engine.deploy import Deployer
        from samlite.engine.sweep import Sweeper
        from samlite.services.apigateway.gateway import GatewayApp
        from samlite.services.cloudformation.custom_resources import CustomResources
        from samlite.services.cloudwatch import api as cloudwatch_api
        from samlite.services.cloudwatch.service import MetricsService
        from samlite.services.comprehend import api as comprehend_api
        from samlite.services.console import auth as console_auth
        from samlite.services.console.app import ConsoleApp
        from samlite.services.console.views import ConsoleViews
        from samlite.services.durable import api as durable_api
        from samlite.services.durable.service import DurableService
        from samlite.services.events.bridge import Bridge
        from samlite.services.events.schedules import Scheduler
        from samlite.services.lambda_ import api as lambda_api
        from samlite.services.lambda_.async_invoke import AsyncDispatcher
        from samlite.services.lambda_.esm import EsmManager
        from samlite.services.lambda_.service import LambdaService
        from samlite.services.logs import api as logs_api
        from samlite.services.logs.service import LogService
        from samlite.services.moto_backend import MotoBackend
        from samlite.services.moto_backend.streams import StreamReader
        from samlite.services.sqs import endpoint as sqs_endpoint
        from samlite.services.sqs.service import QueueService

        store = self.store
        catalog = StackCatalog(store)
        self.invoker = InvokeService(settings, store, self.aws_url, self.functions)
        self.queues = QueueService(settings, store, self.aws_url, stopping=self._stop)
        self.async_dispatcher = AsyncDispatcher(settings, store, self.invoker, self.queues)
        # S3, DynamoDB, ... answered in-process by moto; loaded on first use.
        self.cloud = MotoBackend(settings.home / "cloud", settings.region, settings.account_id, self.aws_url,
                                 lambda: {r["physical_id"]: r["stack"] for r in store.query(
                                     "SELECT physical_id, stack FROM resources")},
                                 _sigv4_check(settings))
        self.esm = EsmManager(settings, store, self.invoker, self.queues, StreamReader(self.cloud))
        self.gateway = GatewayApp(settings, store, catalog, self.invoker)
        # What S3, SNS, EventBridge and schedules deliver reaches samlite's functions and queues.
        self.bridge = Bridge(settings, self.async_dispatcher, self.queues, self.cloud)
        self.cloud.observer = self.bridge
        self.async_dispatcher.external = self.bridge.destination
        self.scheduler = Scheduler(self.bridge, self.cloud, settings.home / "cloud")
        self.logs = LogService(store, catalog, settings.region, settings.account_id)
        self.deployer = Deployer(settings, store, catalog, self.invoker, self.queues, self.esm, self.gateway,
                                 self.cloud, self.logs, self.gateway_url,
                                 CustomResources(store, self.invoker, self.gateway_url))
        self.gateway.cfn_responses = self.deployer.custom  # serves custom resources' ResponseURLs
        self.lambdas = LambdaService(settings, store, catalog, self.invoker, self.esm, self.aws_url)
        self.durable = DurableService(settings, self.invoker)
        self.metrics = MetricsService(store, catalog, self.invoker)
        self.sweeper = Sweeper(settings, store, self.logs, self.metrics)
        self.aws = AwsApp(settings, [
            sqs_endpoint.api(self.queues),
            durable_api.api(self.durable),  # before Lambda's: both sign as `lambda`, Lambda's API answers the rest
            lambda_api.api(self.lambdas),
            logs_api.api(self.logs),
            cloudwatch_api.api(self.metrics),
            comprehend_api.api(),
        ], fallback=self.cloud)
        self.control = ControlApp({
            "engine": self, "deployer": self.deployer, "invoker": self.invoker, "queues": self.queues,
            "esm": self.esm, "async_dispatcher": self.async_dispatcher, "gateway": self.gateway,
            "logs": self.logs, "metrics": self.metrics, "lambdas": self.lambdas, "cloud": self.cloud,
            "sweeper": self.sweeper, "events": self.scheduler, "notifications": self.bridge,
            "durable": self.durable,
        })
        self.console_token = console_auth.new_token()
        self.gateway.console = ConsoleApp(
            ConsoleViews(store, self.deployer, self.lambdas, self.invoker, self.queues, self.esm, self.metrics,
                         self.logs, self.async_dispatcher, self.cloud, self.durable),
            self.console_token, gateway_sock.getsockname()[1], self._stop)

        await self.invoker.start()
        await self.queues.start()
        self.deployer.restore()
        await self.durable.start()  # after restore: executions found running replay at once
        await self.async_dispatcher.start()
        await self.esm.start()
        await self.gateway.start()
        await self.sweeper.start()
        await self.scheduler.start()

        for app, sock in ((self.gateway, gateway_sock), (self.aws, aws_sock), (self.control, control_sock)):
            server = uvicorn.Server(_server_config(app))
            server.lifespan = server.config.lifespan_class(server.config)
            await server.startup(sockets=[sock])
            self._servers.append(server)
        self._write_engine_json()
        # The log shows the console without its token: engine.json (0600) and the CLI carry that.
        log.info("engine ready: gateway %s, aws %s, console %s/_samlite/console/", self.gateway_url, self.aws_url,
                 self.gateway_url)

    def request_stop(self) -> None:
        self._stop.set()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    async def stop(self, deadline_s: float = 10.0) -> None:
        """Stop intake first, let in-flight work finish up to the deadline, then force."""
        log.info("engine stopping")
        for server in self._servers:
            for s in server.servers:
                s.close()
        await self.sweeper.stop()
        await self.scheduler.stop()
        await self.esm.stop()
        await self.async_dispatcher.stop()
        await self.durable.stop()  # before the servers: a synchronous Invoke waiting for an execution answers now
        servers = [_shutdown(server, deadline_s) for server in self._servers]
        await asyncio.gather(*servers, return_exceptions=True)
        await self.gateway.stop()
        await self.invoker.stop(deadline_s)
        await self.queues.stop()
        await self.cloud.close()
        if self.store is not None:
            self.store.close()
        for path in (self.settings.engine_json, self.settings.control_socket):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        log.info("engine stopped")

    # --- state dir -------------------------------------------------------------------------
    def _take_lock(self) -> None:
        """One engine per state dir: an flock that dies with the process (so stale files are harmless)."""
        fd = os.open(self.settings.home / "engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateError(f"another engine is already running on {self.settings.home}") from None
        self._lock_fd = fd

    # --- control surface -----------------------------------------------------------------
    def cli_status(self) -> dict[str, Any]:
        return self.info()

    def cli_shutdown(self) -> dict[str, Any]:
        # Answer first, then stop: the caller waits for the pid to exit.
        asyncio.get_running_loop().call_later(0.05, self.request_stop)
        return {"stopping": True, "pid": os.getpid()}

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "version": __version__,
            "gateway_url": self.gateway_url,
            "aws_url": self.aws_url,
            "region": self.settings.region,
            "account_id": self.settings.account_id,
            "home": str(self.settings.home),
            "control_socket": str(self.settings.control_socket),
            "started_at": self.started_at,
            "console_url": self.console_url(),
        }

    def console_url(self) -> str:
        """The web console's address with its token (whoever can read this may use the console)."""
        return f"{self.gateway_url}/_samlite/console/?token={self.console_token}"

    def _write_engine_json(self) -> None:
        # 0600 from the start: it holds the console token.
        tmp = self.settings.engine_json.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({**self.info(), "console_token": self.console_token}, indent=2))
        os.chmod(tmp, 0o600)  # an older tmp file may have had wider bits
        os.replace(tmp, self.settings.engine_json)


def _sigv4_check(settings: Settings) -> Any:
    if not settings.verify_sigv4:
        return None
    from samlite.core.sigv4 import verify_request

    return lambda request: verify_request(request, settings)


def _server_config(app: Any) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        # httptools, one write per response; the direct lane for apps with `direct()` (http.py)
        http=http_protocol(),
        ws="none",
        # The peer address is the caller, as on API Gateway: a client's own X-Forwarded-For
        # must not become requestContext.identity.sourceIp.
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
        h11_max_incomplete_event_size=64 * 1024,
    )
    config.load()
    return config


async def _shutdown(server: uvicorn.Server, deadline_s: float) -> None:
    server.config.timeout_graceful_shutdown = int(max(1, deadline_s))
    await server.shutdown()


def _url(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def _tcp_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StateError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="Another program uses the port; set SAMLITE_GATEWAY_PORT / SAMLITE_AWS_PORT (0 = any free port).",
        ) from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _unix_socket(path: Path) -> socket.socket:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Create the socket file already private: no window where another user could connect.
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _configure_logging(settings: Settings, foreground: bool) -> None:
    handlers: list[logging.Handler] = [logging.FileHandler(settings.log_path)]
    if foreground:
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


async def serve(settings: Settings, foreground: bool = False) -> None:
    prepare_home(settings)
    make_private(settings)
    raise_open_file_limit()
    _configure_logging(settings, foreground)
    engine = Engine(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, engine.request_stop)
    try:
        await engine.start()
    except BaseException as exc:
        if isinstance(exc, SamliteError):
            log.error("engine failed to start: %s", exc.message)
        else:
            log.exception("engine failed to start")
        # Only the lock holder owns the handles: a losing start must not remove the running engine's.
        if engine._lock_fd is not None:
            for path in (settings.engine_json, settings.control_socket):
                path.unlink(missing_ok=True)
        raise
    await engine.wait_stopped()
    await engine.stop()


def run(settings: Settings, foreground: bool = False) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        asyncio.run(serve(settings, foreground))
    else:
        uvloop.run(serve(settings, foreground))
