"""Engine lifecycle through the CLI: start, status, second start, stop, stale and corrupt state."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from samlite.procs import process_running
from samlite.testing import EngineHandle


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "samlite", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return EngineHandle(tmp_path / "home").env


def test_start_status_second_start_and_stop(env: dict[str, str], tmp_path: Path) -> None:
    started = run_cli(env, "engine", "start", "--output", "json")
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["state"] == "started"
    for key in ("pid", "gateway_url", "aws_url", "region", "account_id"):
        assert info[key]
    assert info["region"] == "us-east-1" and info["account_id"] == "123456789012"
    try:
        status = json.loads(run_cli(env, "engine", "status", "--output", "json").stdout)
        assert status["pid"] == info["pid"]
        engine_json = json.loads((tmp_path / "home" / "engine.json").read_text())
        assert engine_json["aws_url"] == info["aws_url"]

        again = run_cli(env, "engine", "start", "--output", "json")
        assert again.returncode == 0
        assert json.loads(again.stdout)["state"] == "already running"
        assert json.loads(again.stdout)["pid"] == info["pid"]

        sock = tmp_path / "home" / "control.sock"
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    finally:
        stopped = run_cli(env, "engine", "stop")
    assert stopped.returncode == 0
    assert "stopped" in stopped.stderr
    assert not process_running(info["pid"])
    status = run_cli(env, "engine", "status")
    assert status.returncode == 5
    assert "not running" in status.stderr
    assert "Traceback" not in status.stderr


def test_stale_engine_json_is_replaced(env: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (home / "engine.json").write_text(json.dumps({"pid": dead.pid, "aws_url": "http://127.0.0.1:1"}))
    (home / "control.sock").write_text("")  # a leftover file, not a socket
    started = run_cli(env, "engine", "start", "--output", "json")
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads(started.stdout)
        assert info["pid"] != dead.pid
        assert json.loads((home / "engine.json").read_text())["pid"] == info["pid"]
    finally:
        run_cli(env, "engine", "stop")


def test_corrupt_state_database_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.db").write_bytes(b"this is not sqlite" * 100)
    result = run_cli(env, "engine", "start")
    assert result.returncode == 1
    assert "state database" in result.stderr
    assert "Traceback (most recent call last)" not in result.stderr.split("engine.log ends with")[0]
    assert (home / "state.db").read_bytes().startswith(b"this is not sqlite"), "a foreign file is never overwritten"


def test_foreign_sqlite_database_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    import sqlite3

    home = tmp_path / "home"
    home.mkdir()
    db = sqlite3.connect(home / "state.db")
    db.execute("CREATE TABLE users (id INTEGER)")
    db.commit()
    db.close()
    result = run_cli(env, "engine", "start")
    assert result.returncode == 1
    assert "not a samlite state database" in result.stderr


def test_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("oops")
    result = run_cli(EngineHandle(home).env, "engine", "start")
    assert result.returncode == 1
    assert "not a folder" in result.stderr


def test_control_socket_refuses_other_users(samlite_engine: EngineHandle) -> None:
    """File permissions (0600, owned by us) keep another local user out of the control channel."""
    if os.geteuid() != 0:
        pytest.skip("needs root to impersonate another user")
    path = str(samlite_engine.home / "control.sock")
    code = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({path!r})\n"
        "except PermissionError:\n"
        "    sys.exit(42)\n"
        "sys.exit(0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 42, result.stderr
    # and we, the owner, still can
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.close()


def test_sigterm_is_graceful(samlite_engine: EngineHandle) -> None:
    proc = samlite_engine.proc
    assert proc is not None
    samlite_engine.stop()
    assert proc.returncode == 0
    assert "engine stopped" in (samlite_engine.home / "engine.log").read_text()
    assert not (samlite_engine.home / "engine.json").exists()


def test_commands_without_engine_exit_5(tmp_path: Path) -> None:
    env = EngineHandle(tmp_path / "home").env
    for args in (("list", "stacks"), ("engine", "status")):
        result = run_cli(env, *args)
        assert result.returncode == 5, (args, result.stderr)
        assert "samlite engine start" in result.stderr


def test_bad_port_setting_is_a_usage_error(tmp_path: Path) -> None:
    env = {**EngineHandle(tmp_path / "home").env, "SAMLITE_AWS_PORT": "not-a-port"}
    result = run_cli(env, "engine", "start")
    assert result.returncode != 0
    assert "SAMLITE_AWS_PORT" in result.stderr


def test_control_errors_tell_bad_arguments_from_internal_faults(samlite_engine: EngineHandle,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from samlite.client import EngineClient, RemoteError
    from samlite.config import load_settings

    monkeypatch.setenv("SAMLITE_HOME", str(samlite_engine.home))
    client = EngineClient(load_settings())
    # Arguments that do not fit the method are the caller's mistake: a usage error, exit 2.
    with pytest.raises(RemoteError) as exc:
        client.call("engine", "status", bogus=1)
    assert exc.value.exit_code == 2 and "bad arguments" in exc.value.message
    # A TypeError raised inside the method is the engine's fault: exit 1, and logged.
    with pytest.raises(RemoteError) as exc:
        client.call("lambdas", "invoke", function="arn:aws:lambda:us-east-1:123456789012:function:nope",
                    payload_b64=5)
    assert exc.value.exit_code == 1 and exc.value.kind == "InternalError"
    log = (samlite_engine.home / "engine.log").read_text()
    assert "control call lambdas.invoke failed" in log and "TypeError" in log
    assert client.call("engine", "status")["pid"] > 0  # and the engine is still up
