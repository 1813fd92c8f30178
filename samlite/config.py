"""Paths, ports and environment variables, read once into a frozen Settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_GATEWAY_PORT = 3000
DEFAULT_AWS_PORT = 3001
# Dummy credentials injected into every function and accepted by the AWS endpoint.
ACCESS_KEY_ID = "samlite"
SECRET_ACCESS_KEY = "samlite-secret"
# Every key the engine knows when it checks signatures (SAMLITE_VERIFY_SIGV4=1, AWS_IAM function
# URLs and routes): the functions' own, and the `test`/`test` the README tells users to export.
CREDENTIALS = {ACCESS_KEY_ID: SECRET_ACCESS_KEY, "test": "test"}


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        from samlite.errors import UsageError

        raise UsageError(f"{name} must be an integer, got {raw!r}") from None


def _port_env(name: str, default: int) -> int:
    port = _int_env(name, default)
    if not 0 <= port <= 65535:
        from samlite.errors import UsageError

        raise UsageError(f"{name} must be a port number 0-65535 (0 = any free port), got {port}")
    return port


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        from samlite.errors import UsageError

        raise UsageError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    home: Path
    host: str = "127.0.0.1"
    gateway_port: int = DEFAULT_GATEWAY_PORT
    aws_port: int = DEFAULT_AWS_PORT
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    # First async retry delay in seconds; the second waits twice as long (AWS: ~1 and ~2 minutes).
    async_retry_base: float = 60.0
    # Idle execution environments are reaped after this many seconds.
    idle_ttl: float = 600.0
    account_concurrency: int = 1000
    # Local cap on live environments across all functions (a multiple of the cores).
    max_environments: int = field(default_factory=lambda: max(8, (os.cpu_count() or 2) * 16))
    # Stored logs and metrics are capped: the newest this many log events and metric rows are kept
    # (0 = no cap), trimmed by a sweep every `sweep_interval` seconds, off the request path.
    max_log_events: int = 200_000
    max_metric_rows: int = 200_000
    sweep_interval: float = 60.0
    verify_sigv4: bool = False
    # The AWS endpoint refuses unsigned and browser-originated requests (SAMLITE_VERIFY_SIGV4=0: accepts them).
    require_signed: bool = True
    # Downloads shared across state dirs (SAMLITE_CACHE_DIR): dependency installs, the Node runtime's
    # AWS SDK, public layers. None means `<home>/cache`.
    cache_root: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.home / "state.db"

    @property
    def engine_json(self) -> Path:
        return self.home / "engine.json"

    @property
    def control_socket(self) -> Path:
        return self.home / "control.sock"

    @property
    def log_path(self) -> Path:
        return self.home / "engine.log"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def code_dir(self) -> Path:
        return self.home / "code"

    @property
    def envs_dir(self) -> Path:
        return self.home / "envs"

    @property
    def cache_dir(self) -> Path:
        return self.cache_root or self.home / "cache"


def load_settings() -> Settings:
    home = Path(os.environ.get("SAMLITE_HOME") or Path.home() / ".samlite").expanduser().resolve()
    cache = os.environ.get("SAMLITE_CACHE_DIR")
    return Settings(
        home=home,
        cache_root=Path(cache).expanduser().resolve() if cache else home / "cache",
        host=os.environ.get("SAMLITE_HOST", "127.0.0.1"),
        gateway_port=_port_env("SAMLITE_GATEWAY_PORT", DEFAULT_GATEWAY_PORT),
        aws_port=_port_env("SAMLITE_AWS_PORT", DEFAULT_AWS_PORT),
        region=os.environ.get("SAMLITE_REGION", DEFAULT_REGION),
        account_id=os.environ.get("SAMLITE_ACCOUNT_ID", DEFAULT_ACCOUNT_ID),
        async_retry_base=_float_env("SAMLITE_ASYNC_RETRY_BASE", 60.0),
        idle_ttl=_float_env("SAMLITE_IDLE_TTL", 600.0),
        account_concurrency=_int_env("SAMLITE_ACCOUNT_CONCURRENCY", 1000),
        max_log_events=_int_env("SAMLITE_MAX_LOG_EVENTS", 200_000),
        max_metric_rows=_int_env("SAMLITE_MAX_METRICS", 200_000),
        sweep_interval=_float_env("SAMLITE_SWEEP_INTERVAL", 60.0),
        verify_sigv4=os.environ.get("SAMLITE_VERIFY_SIGV4", "").lower() in ("1", "true", "yes"),
        require_signed=os.environ.get("SAMLITE_VERIFY_SIGV4", "").lower() not in ("0", "false", "no", "off"),
    )
