"""pytest plugin: integration-test your own SAM stack against an isolated samlite engine.

Registered through the `pytest11` entry point, so installing samlite makes these fixtures
available:

- `samlite_engine`: a real engine process with its state in `tmp_path` and ports chosen by the
  OS. It has `.cli(...)` to run samlite commands against it, `.spawn(...)` for long-running
  ones (`logs --tail`, `dev`), `.deploy(template, stack)`, `.client(service)` for boto3 clients,
  `.endpoints()` and `.outputs()`, and `.kill()` / `.start()` for crash tests.
- `samlite_module_engine`: the same, shared by every test of a module.
- `wait_for(predicate)` polls to a deadline; `write_project(root, template, files)` writes a
  project to deploy.

    def test_my_api(samlite_engine):
        samlite_engine.deploy("template.yaml", "my-app")
        url = samlite_engine.endpoints()[0]["url"]
        ...
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest


class EngineHandle:
    """One engine process bound to one state dir."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "SAMLITE_HOME": str(home),
            "SAMLITE_GATEWAY_PORT": "0",
            "SAMLITE_AWS_PORT": "0",
            "SAMLITE_ASYNC_RETRY_BASE": os.environ.get("SAMLITE_ASYNC_RETRY_BASE", "0.2"),
            "AWS_ACCESS_KEY_ID": "samlite",
            "AWS_SECRET_ACCESS_KEY": "samlite-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.env.pop("AWS_PROFILE", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    # --- process ---------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> "EngineHandle":
        self.home.mkdir(parents=True, exist_ok=True)
        engine_json = self.home / "engine.json"
        with (self.home / "engine.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "samlite.engine", "--daemon"],
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engine exited with {self.proc.returncode}:\n{self.log_tail()}")
            if engine_json.exists() and (self.home / "control.sock").exists():
                try:
                    info = json.loads(engine_json.read_text())
                except ValueError:
                    info = {}
                if info.get("pid") == self.proc.pid:
                    self.info = info
                    return self
            time.sleep(0.01)
        raise RuntimeError(f"engine not ready after {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """Stop gracefully, and make sure nothing of the engine is left running."""
        self.stop()
        self.kill()

    def kill(self) -> None:
        """SIGKILL: the crash case durability tests need."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join((self.home / "engine.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- use -------------------------------------------------------------------------------
    @property
    def aws_url(self) -> str:
        return self.info["aws_url"]

    @property
    def gateway_url(self) -> str:
        return self.info["gateway_url"]

    def cli(self, *args: str, input: str | bytes | None = None, cwd: str | Path | None = None,
            timeout: float = 120.0, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `samlite ARGS` against this engine, as a user would in a shell."""
        if isinstance(input, bytes):
            input = input.decode()
        result = subprocess.run(
            [sys.executable, "-m", "samlite", *args],
            env=self.env,
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"samlite {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\n"
                f"stderr:\n{result.stderr}\nengine.log:\n{self.log_tail()}"
            )
        return result

    def spawn(self, *args: str, cwd: str | Path | None = None, **env: str) -> "CliProcess":
        """Start a long-running `samlite ARGS` (`logs --tail`, `dev`) and collect its output."""
        return CliProcess([sys.executable, "-m", "samlite", *args], {**self.env, **env}, cwd)

    def deploy(self, template: str | Path, stack_name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        template = Path(template)
        return self.cli("deploy", "-t", str(template), "--stack-name", stack_name, "--no-confirm-changeset",
                        *extra, cwd=template.parent, check=True)

    def client(self, service: str, **kwargs: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.aws_url,
            region_name="us-east-1",
            aws_access_key_id="samlite",
            aws_secret_access_key="samlite-secret",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
            **kwargs,
        )

    def endpoints(self, stack: str | None = None) -> list[dict[str, Any]]:
        args = ["list", "endpoints", "--output", "json"] + (["--stack-name", stack] if stack else [])
        return json.loads(self.cli(*args, check=True).stdout)

    def outputs(self, stack: str | None = None) -> dict[str, str]:
        args = ["list", "outputs", "--output", "json"] + (["--stack-name", stack] if stack else [])
        return {o["key"]: o["value"] for o in json.loads(self.cli(*args, check=True).stdout)}


class CliProcess:
    """A running CLI command whose combined stdout and stderr a thread collects, line by line."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: str | Path | None = None) -> None:
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_output(self, needle: str, timeout: float = 15, after: int = 0) -> None:
        """Poll until `needle` appears in the output (from line `after` on); fail if the process exits."""
        def seen() -> bool:
            assert self.proc.poll() is None, f"the command exited {self.proc.returncode}:\n{self.text}"
            return needle in "".join(self.lines[after:])

        wait_for(seen, timeout=timeout, message=f"{needle!r} in the output:\n{self.text}")

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = 15) -> int:
        """Send Ctrl-C (or `sig`) and return the exit code."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def signed_headers(method: str, url: str, body: bytes | str | dict[str, str] = b"",
                   headers: dict[str, str] | None = None, service: str = "sqs") -> dict[str, str]:
    """`headers` plus a SigV4 signature (test/test credentials), for raw HTTP calls to the AWS
    endpoint, which refuses unsigned requests. A dict body is form-encoded, as `requests` does."""
    from urllib.parse import urlencode

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = urlencode(body).encode() if isinstance(body, dict) else body
    request = AWSRequest(method=method, url=url, data=data, headers=dict(headers or {}))
    SigV4Auth(Credentials("test", "test"), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def write_project(root: Path, template: str, files: dict[str, str]) -> Path:
    """Write a SAM project (template.yaml plus {relative path: text}) and return the template path."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "template.yaml").write_text(template)
    return root / "template.yaml"


def shared_cache_dir() -> Path:
    """A download cache kept between test runs (SAMLITE_TEST_CACHE, else ~/.cache/samlite-test):
    tests that install from npm or PyPI pass it as SAMLITE_CACHE_DIR so they download once."""
    path = Path(os.environ.get("SAMLITE_TEST_CACHE") or Path.home() / ".cache" / "samlite-test")
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_registry(host: str) -> None:
    """Skip the calling test when a package registry (registry.npmjs.org, pypi.org) is unreachable."""
    import socket

    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as exc:
        pytest.skip(f"needs {host} to fill the download cache, unreachable: {exc}")


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.02, message: str = "condition") -> Any:
    """Poll `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message} (last value: {last!r})")


@pytest.fixture
def samlite_engine(tmp_path: Path) -> Iterator[EngineHandle]:
    """A running, isolated engine (state in tmp_path, ports chosen by the OS)."""
    handle = EngineHandle(tmp_path / "samlite-home").start()
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture(scope="module")
def samlite_module_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineHandle]:
    """One engine shared by every test of a module (faster when tests deploy once and only read)."""
    handle = EngineHandle(tmp_path_factory.mktemp("samlite-module") / "home").start()
    try:
        yield handle
    finally:
        handle.close()
