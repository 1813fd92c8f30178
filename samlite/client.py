"""The CLI's side of the control channel: find or start the engine, then call it over its socket.

Kept free of heavy imports: every CLI command that talks to the engine goes through here.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

from samlite.config import Settings, load_settings
from samlite.engine.lifecycle import engine_lock_held, home_error, is_this_homes_engine, prepare_home, start_lock
from samlite.errors import EngineUnreachable, SamliteError, StateError
from samlite.procs import process_running

START_TIMEOUT_S = 20.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class RemoteError(SamliteError):
    """An error raised inside the engine, carried back with its exit code."""

    def __init__(self, message: str, hint: str | None, exit_code: int, kind: str) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code  # type: ignore[assignment]
        self.kind = kind


class EngineClient:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._info: dict[str, Any] | None = None

    def call(self, service: str, method: str, timeout: float = 120.0, **kwargs: Any) -> Any:
        body = json.dumps(kwargs).encode()
        conn = _UnixConnection(str(self.settings.control_socket), timeout)
        try:
            conn.request("POST", f"/call/{service}/{method}", body, {"content-type": "application/json"})
            response = conn.getresponse()
            data = json.loads(response.read() or b"{}")
        except PermissionError:
            raise EngineUnreachable(
                f"permission denied on the engine's control socket {self.settings.control_socket}",
                hint="The engine belongs to another user; set SAMLITE_HOME to your own folder.",
            ) from None
        except ConnectionRefusedError:
            raise EngineUnreachable(
                "the engine is not running (it stopped without cleaning up: nothing listens on "
                f"{self.settings.control_socket})",
                hint="Start it with `samlite engine start` (deploy starts it for you).",
            ) from None
        except FileNotFoundError:
            raise EngineUnreachable(
                f"the engine is not running (no control socket at {self.settings.control_socket})",
                hint="Start it with `samlite engine start` (deploy starts it for you).",
            ) from None
        except (socket.timeout, TimeoutError):
            raise EngineUnreachable(f"the engine did not answer {service}.{method} within {timeout:.0f} s") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise EngineUnreachable(f"the engine's control channel failed: {exc}") from None
        finally:
            conn.close()
        if "error" in data:
            err = data["error"]
            raise RemoteError(err["message"], err.get("hint"), int(err.get("exit_code", 1)), err.get("type", ""))
        return data.get("result")

    # Typed views of the engine's services; `call` stays the raw channel under them.
    @property
    def deployer(self) -> DeployerClient:
        return DeployerClient(self)

    @property
    def lambdas(self) -> LambdaClient:
        return LambdaClient(self)

    @property
    def queues(self) -> QueuesClient:
        return QueuesClient(self)

    @property
    def mappings(self) -> MappingsClient:
        return MappingsClient(self)

    @property
    def logs(self) -> LogsClient:
        return LogsClient(self)

    @property
    def metrics(self) -> MetricsClient:
        return MetricsClient(self)

    @property
    def cloud(self) -> CloudClient:
        return CloudClient(self)

    @property
    def events(self) -> EventsClient:
        return EventsClient(self)

    @property
    def durable(self) -> DurableClient:
        return DurableClient(self)

    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.call("engine", "status", timeout=10)
        return self._info

    def shutdown(self) -> dict[str, Any]:
        return self.call("engine", "shutdown", timeout=10)

    def is_running(self) -> bool:
        try:
            self.info()
            return True
        except EngineUnreachable:
            return False


Rows = list[dict[str, Any]]


class _Service:
    """The typed side of one engine service's control surface (its `cli_*` methods)."""

    name = ""

    def __init__(self, client: EngineClient) -> None:
        self._client = client

    def _call(self, method: str, timeout: float = 120.0, **kwargs: Any) -> Any:
        return self._client.call(self.name, method, timeout, **kwargs)


class DeployerClient(_Service):
    name = "deployer"

    def exports(self) -> dict[str, str]:
        return self._call("exports")

    def plan(self, model: dict[str, Any]) -> dict[str, Any]:
        return self._call("plan", model=model)

    def apply(self, model: dict[str, Any], artifacts: Rows) -> dict[str, Any]:
        return self._call("apply", 600, model=model, artifacts=artifacts)

    def delete(self, stack: str) -> dict[str, Any]:
        return self._call("delete", stack=stack)

    def stacks(self) -> Rows:
        return self._call("stacks")

    def resources(self, stack: str | None = None) -> Rows:
        return self._call("resources", stack=stack)

    def outputs(self, stack: str | None = None) -> Rows:
        return self._call("outputs", stack=stack)

    def endpoints(self, stack: str | None = None) -> Rows:
        return self._call("endpoints", stack=stack)

    def api_keys(self, stack: str | None = None) -> Rows:
        return self._call("api_keys", stack=stack)

    def function(self, function: str, stack: str | None = None) -> dict[str, Any]:
        return self._call("function", 10, function=function, stack=stack)


class LambdaClient(_Service):
    name = "lambdas"

    def functions(self, stack: str | None = None) -> Rows:
        return self._call("functions", stack=stack)

    def invoke(self, function: str, stack: str | None, payload_b64: str, invocation_type: str) -> dict[str, Any]:
        # Lambda's longest timeout is 900 s; the answer may take that long.
        return self._call("invoke", 960, function=function, stack=stack, payload_b64=payload_b64,
                          invocation_type=invocation_type)

    def tune(self, function: str, stack: str | None, payload_b64: str, memory_sizes: list[int], runs: int,
             timeout: float) -> dict[str, Any]:
        return self._call("tune", timeout, function=function, stack=stack, payload_b64=payload_b64,
                          memory_sizes=memory_sizes, runs=runs)


class QueuesClient(_Service):
    name = "queues"

    def list_queues(self, stack: str | None = None) -> Rows:
        return self._call("list_queues", stack=stack)

    def send_message(self, queue: str, body: str, stack: str | None = None, **message: Any) -> dict[str, Any]:
        """`message`: attributes, delay_seconds, group_id, dedup_id (as SendMessage takes them)."""
        return self._call("send_message", queue=queue, body=body, stack=stack, **message)


class MappingsClient(_Service):
    name = "esm"

    def list_mappings(self, stack: str | None = None) -> Rows:
        return self._call("list_mappings", stack=stack)


class LogsClient(_Service):
    name = "logs"

    def events(self, timeout: float = 120.0, **query: Any) -> dict[str, Any]:
        """`query`: function, stack, start_ms, end_ms, filter, after_id, limit, tail_start."""
        return self._call("events", timeout, **query)


class CloudClient(_Service):
    name = "cloud"

    def list(self, kind: str, stack: str | None = None) -> Rows:
        """What the moto backend holds: buckets, tables, secrets, parameters, streams, topics, ..."""
        return self._call("list", kind=kind, stack=stack)


class EventsClient(_Service):
    name = "events"

    def fire(self, name: str) -> dict[str, Any]:
        """Fire a schedule rule, a Scheduler schedule or a pattern rule now."""
        return self._call("fire", name=name)

    def schedules(self) -> Rows:
        return self._call("schedules")


class DurableClient(_Service):
    name = "durable"

    def list(self, function: str | None = None) -> Rows:
        """Durable executions, newest first (of one function, by name or ARN)."""
        return self._call("list", function=function)

    def show(self, arn: str) -> dict[str, Any]:
        """One execution with its history events."""
        return self._call("show", arn=arn)

    def fire(self, arn: str) -> dict[str, Any]:
        """Complete the execution's pending waits and step retries now."""
        return self._call("fire", arn=arn)


class MetricsClient(_Service):
    name = "metrics"

    def summary(self, function: str | None = None, stack: str | None = None, since_s: float = 900) -> dict[str, Any]:
        return self._call("summary", function=function, stack=stack, since_s=since_s)


def engine_pid_alive(settings: Settings) -> int | None:
    """The pid recorded in engine.json if that process still runs."""
    try:
        pid = int(json.loads(settings.engine_json.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if process_running(pid) else None


def check_ports(settings: Settings) -> None:
    """Fail in one line, before starting, when another program holds a port the engine needs."""
    for port, variable, what in ((settings.gateway_port, "SAMLITE_GATEWAY_PORT", "HTTP gateway"),
                                 (settings.aws_port, "SAMLITE_AWS_PORT", "AWS endpoint")):
        if not port:
            continue  # 0: any free port
        sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the engine binds
        try:
            sock.bind((settings.host, port))
        except OSError as exc:
            raise StateError(f"port {port} ({what}) on {settings.host} is not available ({exc.strerror}): set "
                             f"{variable} to another port (0 = any free port), or pass --port where the "
                             "command takes it") from None
        finally:
            sock.close()


def start_engine(settings: Settings | None = None) -> tuple[EngineClient, bool]:
    """Return a client to a running engine, starting a daemon when none runs.

    The bool says whether this call started it. A stale engine.json (its process gone) is replaced.
    """
    client = EngineClient(settings)
    settings = client.settings
    if client.is_running():
        return client, False
    prepare_home(settings)
    check_ports(settings)
    # Racing starters (two deploys at once) take turns: the second finds the first one's engine.
    with start_lock(settings):
        if client.is_running():
            return client, False
        proc = _spawn(settings)
        deadline = time.monotonic() + START_TIMEOUT_S
        waited_for_other = False
        while time.monotonic() < deadline:
            if settings.control_socket.exists() and settings.engine_json.exists() and client.is_running():
                return client, True
            if proc.poll() is not None:
                if engine_lock_held(settings):
                    # Another engine owns the home (started outside the CLI, or still stopping):
                    # wait for it to answer or to go away.
                    waited_for_other = True
                elif waited_for_other:
                    proc, waited_for_other = _spawn(settings), False  # it went away: start ours
                else:
                    raise StateError(f"the engine exited during start-up (code {proc.returncode})",
                                     hint=_log_tail(settings))
            time.sleep(0.02)
        if proc.poll() is None:
            proc.terminate()
    raise StateError(f"the engine did not become ready within {START_TIMEOUT_S:.0f} s", hint=_log_tail(settings))


def _spawn(settings: Settings) -> subprocess.Popen[bytes]:
    try:
        log = settings.log_path.open("ab")
    except OSError as exc:
        raise home_error(settings, exc) from None
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", "samlite.engine", "--daemon"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )


def stop_engine(settings: Settings | None = None, timeout: float = 20.0) -> int | None:
    """Ask the engine to stop gracefully; return its pid once gone (None when none ran)."""
    client = EngineClient(settings)
    settings = client.settings
    try:
        pid = client.shutdown()["pid"]
    except EngineUnreachable:
        # No answer: signal the pid of engine.json only if it is really this home's engine (after a
        # SIGKILL the pid may belong to an unrelated process by now).
        pid = engine_pid_alive(settings)
        if pid is None or not is_this_homes_engine(settings, pid):
            return None
        os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_running(pid):
            return pid
        time.sleep(0.02)
    if is_this_homes_engine(settings, pid):
        os.kill(pid, 9)
    return pid


def connect(settings: Settings | None = None) -> EngineClient:
    """A client to an engine that must already run (exit 5 otherwise)."""
    client = EngineClient(settings)
    client.info()
    return client


def _log_tail(settings: Settings, lines: int = 15) -> str:
    try:
        text = settings.log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"see {settings.log_path}"
    return "engine.log ends with:\n" + "\n".join(text)
