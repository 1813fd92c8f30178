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


# The default cap on live execution environments: the machine's memory (or its cgroup's limit) over
# this per-environment budget, a warm worker's RSS with room to spare, bounded to a sane range.
ENVIRONMENT_BUDGET_MB = 64
MIN_ENVIRONMENTS = 8
MAX_DEFAULT_ENVIRONMENTS = 1000  # the default account concurrency: more could never all be busy
# How long a synchronous invocation waits for an environment when all are busy (seconds).
DEFAULT_ENVIRONMENT_WAIT = 5.0


def memory_mb() -> int | None:
    """Usable memory in MB: physical memory, or the cgroup's limit when lower; None if unknown."""
    total: int | None = None
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and (total is None or int(raw) < total):
            total = int(raw)
        break
    return total // (1024 * 1024) if total else None


def default_max_environments() -> int:
    """Memory / ENVIRONMENT_BUDGET_MB, but no more than 16 per core, within [MIN_ENVIRONMENTS,
    MAX_DEFAULT_ENVIRONMENTS]. Memory bounds how many processes fit; cores bound how many can make
    progress: 200 environments on 2 cores served 200 connections with a p99 of 1.3 s, 32 with 150 ms."""
    by_cores = (os.cpu_count() or 2) * 16
    mb = memory_mb()
    by_memory = by_cores if mb is None else mb // ENVIRONMENT_BUDGET_MB
    return max(MIN_ENVIRONMENTS, min(MAX_DEFAULT_ENVIRONMENTS, by_memory, by_cores))


def _max_environments_env() -> int:
    name = "SAMLITE_MAX_ENVIRONMENTS"
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default_max_environments()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        from samlite.errors import UsageError

        raise UsageError(f"{name} must be a whole number of environments, at least 1, got {raw!r}"
                         f" (unset: {default_max_environments()}, from this machine's memory and cores)")
    return value


def _wait_env() -> float:
    name = "SAMLITE_ENVIRONMENT_WAIT"
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return DEFAULT_ENVIRONMENT_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # also refuses nan
        from samlite.errors import UsageError

        raise UsageError(f"{name} must be a number of seconds, 0 or more, got {raw!r}"
                         f" (unset: {DEFAULT_ENVIRONMENT_WAIT:g})")
    return value


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
    # Local cap on live environments across all functions (SAMLITE_MAX_ENVIRONMENTS; default from
    # memory). A synchronous invocation beyond it waits up to `environment_wait` seconds for one
    # (SAMLITE_ENVIRONMENT_WAIT); async events and mappings are throttled and retried as before.
    max_environments: int = field(default_factory=default_max_environments)
    environment_wait: float = DEFAULT_ENVIRONMENT_WAIT
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
    # Streamed responses (InvokeWithResponseStream, RESPONSE_STREAM function URLs): past the first
    # 6 MB, AWS caps the rate at 2 MB/s. 0 (the default) leaves it uncapped locally;
    # SAMLITE_STREAM_BANDWIDTH=2 (MB/s) reproduces AWS.
    stream_bandwidth: float = 0.0
    # The soft limit on a streamed response's size (AWS: 20 MB).
    stream_limit: int = 20 * 1024 * 1024

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
        max_environments=_max_environments_env(),
        environment_wait=_wait_env(),
        stream_bandwidth=_float_env("SAMLITE_STREAM_BANDWIDTH", 0.0),
        max_log_events=_int_env("SAMLITE_MAX_LOG_EVENTS", 200_000),
        max_metric_rows=_int_env("SAMLITE_MAX_METRICS", 200_000),
        sweep_interval=_float_env("SAMLITE_SWEEP_INTERVAL", 60.0),
        verify_sigv4=os.environ.get("SAMLITE_VERIFY_SIGV4", "").lower() in ("1", "true", "yes"),
        require_signed=os.environ.get("SAMLITE_VERIFY_SIGV4", "").lower() not in ("0", "false", "no", "off"),
    )
