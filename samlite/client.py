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
from samlite.procs import process_running
from samlite.errors import EngineUnreachable, SamliteError, StateError

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

    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.call("engine", "status", timeout=10)
        return self._info

    def is_running(self) -> bool:
        try:
            self.info()
            return True
        except EngineUnreachable:
            return False


def engine_pid_alive(settings: Settings) -> int | None:
    """The pid recorded in engine.json if that process still runs."""
    try:
        pid = int(json.loads(settings.engine_json.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if process_running(pid) else None


def start_engine(settings: Settings | None = None) -> tuple[EngineClient, bool]:
    """Return a client to a running engine, starting a daemon when none runs.

    The bool says whether this call started it. A stale engine.json (its process gone) is replaced.
    """
    client = EngineClient(settings)
    settings = client.settings
    if client.is_running():
        return client, False
    prepare_home(settings)
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
        log = open(settings.log_path, "ab")
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
        pid = client.call("engine", "shutdown", timeout=10)["pid"]
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
