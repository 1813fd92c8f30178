"""Worker processes: spawn, warm reuse, idle reaping, timeout kill, memory limit.

Each execution environment is one process running `bootstrap.py` with the function's code as
cwd, its own env vars and TMPDIR. Workers on the engine's own interpreter are forked from a
zygote (a pre-imported bootstrap process started lazily) so a cold start costs a fork plus the
handler import; other interpreters are spawned. The engine talks to each worker over a
socketpair (frames of protocol.py) read by an asyncio Protocol, so a warm invocation is one
write and one read with no thread hop. fds 1/2 of a worker are a pipe read by the engine too,
for output that bypasses sys.stdout (C code, subprocesses, a dying interpreter).

Memory: MemorySize is enforced with a cgroup v1 memory controller when writable (the kernel
kills the worker at the limit); otherwise busy workers' RSS is sampled and the worker killed
when over. Either way the invocation reports Runtime.OutOfMemory as Lambda does.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from samlite.config import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Settings
from samlite.core.runtime import FunctionSpec
from samlite.core.runtime.interpreters import (
    Interpreter,
    bootstrap_path,
    engine_site_packages,
    resolve,
)
from samlite.core.runtime.protocol import FrameParser, encode
from samlite.procs import pid_exists

log = logging.getLogger("samlite.engine")

SESSION_TOKEN = "samlite-session"
CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")
RSS_SAMPLE_S = 0.03

# (kind, header, body): kind is a frame type ("ready", "ie", "r", "e") or "timeout" / "lost".
Reply = tuple[str, dict[str, Any], bytes]
OutputSink = Callable[["Environment", str], None]


# --- cgroups ---------------------------------------------------------------------------------

_cgroup_root: Path | None | bool = False  # False = not probed yet


def cgroup_root() -> Path | None:
    """<cgroup v1 memory>/samlite when we may create groups there, else None (probed once)."""
    global _cgroup_root
    if _cgroup_root is False:
        root = CGROUP_V1_MEMORY / "samlite"
        try:
            root.mkdir(exist_ok=True)
            probe = root / f"probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            probe.mkdir()
            ok = (probe / "memory.limit_in_bytes").exists()
            probe.rmdir()
            _cgroup_root = root if ok else None
        except OSError:
            _cgroup_root = None
    return _cgroup_root  # type: ignore[return-value]


def _make_cgroup(env_id: str, memory_mb: int) -> Path | None:
    root = cgroup_root()
    if root is None:
        return None
    group = root / env_id
    try:
        group.mkdir()
        limit = str(memory_mb * 1024 * 1024)
        (group / "memory.limit_in_bytes").write_text(limit)
        memsw = group / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            # No swapping around the limit: the worker is killed as on Lambda.
            with contextlib.suppress(OSError):
                memsw.write_text(limit)
        return group
    except OSError:
        with contextlib.suppress(OSError):
            group.rmdir()
        return None


def _kill_cgroup(group: Path) -> None:
    """SIGKILL every process left in the environment's cgroup: children that left the worker's
    process group (setsid, a daemon) are still in it."""
    with contextlib.suppress(OSError):
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


def _cgroup_oom(group: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        for line in (group / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1]) > 0
    with contextlib.suppress(OSError, ValueError):
        return int((group / "memory.failcnt").read_text()) > 0 and int(
            (group / "memory.max_usage_in_bytes").read_text()) >= int((group / "memory.limit_in_bytes").read_text())
    return False


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


# --- the environment -------------------------------------------------------------------------


class _EnvProtocol(asyncio.Protocol):
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.parser = FrameParser()

    def data_received(self, data: bytes) -> None:
        for header, body in self.parser.feed(data):
            self.env._on_frame(header, body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.env.lost = True
        self.env._on_lost()


class _PipeProtocol(asyncio.Protocol):
    """fds 1/2 of the worker: raw output, split into lines."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.partial = b""

    def data_received(self, data: bytes) -> None:
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        for line in lines:
            self.env.output(line.decode("utf-8", "replace"))

    def eof_received(self) -> bool | None:
        if self.partial:
            self.env.output(self.partial.decode("utf-8", "replace"))
            self.partial = b""
        return None


@dataclass(eq=False)
class Environment:
    spec: FunctionSpec
    interpreter: Interpreter
    sink: OutputSink
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    pid: int | None = None
    stream: str = ""
    tmpdir: Path | None = None
    cgroup: Path | None = None
    state: str = "starting"  # starting | idle | busy | dead
    kill_reason: str | None = None  # timeout | oom | retired | reaped | shutdown | init
    init_ms: float | None = None
    rss_kb: int = 0
    last_used: float = field(default_factory=time.monotonic)
    request_id: str = ""  # the invocation output is attributed to
    transport: asyncio.Transport | None = None
    ready: asyncio.Future[Reply] | None = None
    call: asyncio.Future[Reply] | None = None
    exited: asyncio.Future[int] | None = None
    oom: bool = False
    lost: bool = False  # the frame socket closed: the worker is dead or dying
    tail: list[str] | None = None  # lines of the current invocation, when collected
    # The current invocation's streaming.ResponseSink, when its caller reads a stream; only a
    # Runtime API environment can stream (a Python worker's answer is always buffered).
    response_sink: Any = None

    def __post_init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.exited = loop.create_future()
        day = time.strftime("%Y/%m/%d", time.gmtime())
        self.stream = f"{day}/[{self.spec.version}]{self.id}"

    @property
    def alive(self) -> bool:
        return self.state != "dead" and self.kill_reason is None and not self.lost

    # -- frames from the worker --
    def _on_frame(self, header: dict[str, Any], body: bytes) -> None:
        kind = header["t"]
        if kind == "o":
            for line in body.decode("utf-8", "replace").split("\n"):
                self.output(line)
        elif kind == "l":
            self.output(body.decode("utf-8", "replace"))
        elif kind in ("r", "e"):
            if self.call is not None and not self.call.done():
                self.call.set_result((kind, header, body))
        elif kind in ("ready", "ie") and self.ready is not None and not self.ready.done():
            self.ready.set_result((kind, header, body))

    def output(self, line: str) -> None:
        if self.tail is not None:
            self.tail.append(line)
        self.sink(self, line)

    def _on_lost(self) -> None:
        for fut in (self.ready, self.call):
            if fut is not None and not fut.done():
                fut.set_result(("lost", {}, b""))

    # -- control --
    def send_invoke(self, header: dict[str, Any], payload: bytes) -> asyncio.Future[Reply]:
        assert self.transport is not None
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.call = fut
        if self.lost or self.transport.is_closing():
            fut.set_result(("lost", {}, b""))
        else:
            self.transport.write(encode(header, payload))
        return fut

    def kill(self, reason: str) -> None:
        """SIGKILL the worker's process group; cleanup follows its exit notice."""
        if self.kill_reason is None:
            self.kill_reason = reason
        if self.pid is not None and self.state != "dead":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)
        if self.cgroup is not None:
            _kill_cgroup(self.cgroup)
        if self.transport is not None:
            self.transport.close()
        for fut in (self.ready, self.call):
            if fut is not None and not fut.done():
                fut.set_result(("timeout" if reason == "timeout" else "lost", {}, b""))

    async def exit_code(self, wait_s: float = 2.0) -> int:
        """The worker's exit status (negative = signal); -9 if the notice never comes."""
        assert self.exited is not None
        with contextlib.suppress(asyncio.TimeoutError):
            return await asyncio.wait_for(asyncio.shield(self.exited), wait_s)
        return -signal.SIGKILL

    def _on_exit(self, returncode: int) -> None:
        self.state = "dead"
        if self.cgroup is not None:
            self.oom = self.oom or _cgroup_oom(self.cgroup)
            _kill_cgroup(self.cgroup)  # the environment ends with everything it started
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()
        if self.transport is not None:
            self.transport.close()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        assert self.exited is not None
        if not self.exited.done():
            self.exited.set_result(returncode)
        self._on_lost()


# --- the zygote ------------------------------------------------------------------------------


class Zygote:
    """A pre-imported bootstrap process that forks workers on request (SOCK_SEQPACKET control)."""

    def __init__(self, on_exit: Callable[[int, int], None]) -> None:
        self.on_exit = on_exit
        self.sock: socket.socket | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[int, tuple[Environment, asyncio.Future[int]]] = {}
        self.keys = itertools.count(1)
        self.starting: asyncio.Lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self.sock is not None

    async def start(self) -> None:
        async with self.starting:
            if self.sock is not None:
                return
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(bootstrap_path()), "--zygote", str(child.fileno()),
                    pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, start_new_session=True,
                )
            finally:
                child.close()
            parent.setblocking(False)
            self.sock = parent
            self.pending = {}
            self.reader = asyncio.get_running_loop().create_task(self._read(parent, self.pending))

    async def spawn(self, env: Environment, config: dict[str, Any], fds: list[int]) -> int:
        if self.sock is None:
            await self.start()
        assert self.sock is not None
        key = next(self.keys)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[key] = (env, fut)
        data = json.dumps({**config, "k": key}).encode()
        restarted = False
        while True:
            try:
                socket.send_fds(self.sock, [data], fds)
                break
            except BlockingIOError:
                await asyncio.sleep(0.001)
            except OSError:
                # The zygote died and its reader has not noticed yet: start a new one, once.
                if restarted:
                    raise
                restarted = True
                self.sock = None
                await self.start()
                assert self.sock is not None
                self.pending[key] = (env, fut)
        return await fut

    async def _read(self, sock: socket.socket,
                    pending: dict[int, tuple[Environment, asyncio.Future[int]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(sock, 65536)
                if not data:
                    break
                msg = json.loads(data)
                if msg["t"] == "spawned":
                    env, fut = pending.pop(msg["k"])
                    env.pid = msg["pid"]
                    if not fut.done():
                        fut.set_result(msg["pid"])
                elif msg["t"] == "exit":
                    self.on_exit(msg["pid"], msg["rc"])
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            # The zygote is gone: fail pending spawns; the next spawn starts a new zygote.
            if self.sock is sock:
                self.sock = None
            sock.close()
            for _env, fut in pending.values():
                if not fut.done():
                    fut.set_exception(RuntimeError("the worker zygote exited"))
            pending.clear()

    async def stop(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 2.0)


# --- the manager -----------------------------------------------------------------------------


@dataclass(eq=False)
class Pool:
    idle: list[Environment] = field(default_factory=list)  # LIFO: the warmest is reused first
    busy: set[Environment] = field(default_factory=set)


def build_environment(spec: FunctionSpec, settings: Settings, aws_endpoint_url: str, stream: str,
                      tmpdir: Path, extension_port: int | None = None) -> dict[str, str]:
    """The worker's env vars, user Variables included."""
    code = str(spec.code_dir)
    lib_path = [code, f"{code}/lib", *(f"{layer}/lib" for layer in spec.layer_dirs)]
    if os.environ.get("LD_LIBRARY_PATH"):
        lib_path.append(os.environ["LD_LIBRARY_PATH"])
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LD_LIBRARY_PATH": ":".join(lib_path),
        "PYTHONPATH": code,
        "HOME": str(tmpdir),
    }
    env.update({str(k): str(v) for k, v in spec.environment.items()})
    env.update({
        "_HANDLER": spec.handler,
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "LAMBDA_TASK_ROOT": code,
        "LAMBDA_RUNTIME_DIR": str(bootstrap_path().parent),
        "TMPDIR": str(tmpdir),
    })
    if spec.parameters_secrets and extension_port:
        env["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] = str(extension_port)
    return env


class Workers:
    """All execution environments of the engine, pooled per function name."""

    def __init__(self, settings: Settings, aws_endpoint_url: str, sink: OutputSink,
                 use_zygote: bool = True, runtime_api_environment: type[Environment] | None = None) -> None:
        self.settings = settings
        # The environment class for nodejs* / provided* (runtime_api.py), passed in by the invoke
        # service so that this module does not import the Runtime API that builds on it.
        self.runtime_api_environment = runtime_api_environment
        self.aws_endpoint_url = aws_endpoint_url
        self.sink = sink
        self.use_zygote = use_zygote
        self.pools: dict[str, Pool] = {}
        self.by_pid: dict[int, Environment] = {}
        self.live: set[Environment] = set()  # not dead and not being killed
        # Synchronous invocations waiting, first come first served, for an environment at the cap
        # (`wait_for_environment`), and the rooms granted to waiters that have not used them yet.
        self.waiters: collections.deque[tuple[FunctionSpec, asyncio.Future[Environment | None]]] = \
            collections.deque()
        self.granted = 0
        self.closing = False
        self.all: set[Environment] = set()
        self.zygote = Zygote(self._on_exit)
        self.early_exits: dict[int, int] = {}
        self.use_cgroups = True
        self.rss_sampling = False
        self._tasks: list[asyncio.Task[None]] = []
        self.runtime_api: Any = None  # runtime_api.RuntimeApiServer, created with the first such env
        # The Parameters and Secrets extension, started with the first function that has its layer.
        self.extension: Any = None
        self.extension_port: int | None = None
        # Optional callbacks run once a new worker's pid is known, before its init is awaited
        # (e.g. `samlite tune` moves the worker into a cpu cgroup). A failing hook is logged.
        self.spawn_hooks: list[Callable[[Environment], None]] = []

    async def start(self) -> None:
        self.settings.envs_dir.mkdir(parents=True, exist_ok=True)
        self.rss_sampling = not self.use_cgroups or cgroup_root() is None
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._reap_loop()))
        if self.use_zygote:
            # Start the zygote now, off the request path, so the first cold start is a fork too.
            self._tasks.append(loop.create_task(self.zygote.start()))
        if self.rss_sampling:
            self._tasks.append(loop.create_task(self._sample_loop()))

    def pool(self, name: str) -> Pool:
        pool = self.pools.get(name)
        if pool is None:
            pool = self.pools[name] = Pool()
        return pool

    # -- acquisition --
    def has_idle(self, spec: FunctionSpec) -> bool:
        pool = self.pools.get(spec.name)
        return pool is not None and bool(pool.idle)

    def take_idle(self, spec: FunctionSpec) -> Environment | None:
        pool = self.pools.get(spec.name)
        if pool is None:
            return None
        while pool.idle:
            env = pool.idle.pop()
            # An idle worker can die between two polls of its socket: check the pid too.
            if env.alive and env.spec.code_sha == spec.code_sha and (env.pid is None or pid_exists(env.pid)):
                env.state = "busy"
                pool.busy.add(env)
                return env
            self.kill(env, "retired")
        return None

    def make_room(self, spec: FunctionSpec) -> bool:
        """True when a new environment may start: under the cap, or after reaping the oldest
        idle environment of another function (or an older code version)."""
        if len(self.live) + self.granted < self.settings.max_environments:
            return True
        victims = [env for pool in self.pools.values() for env in pool.idle]
        if not victims:
            return False
        self.kill(min(victims, key=lambda e: e.last_used), "reaped")
        return True

    async def wait_for_environment(self, spec: FunctionSpec, timeout: float) -> Environment | None:
        """At the cap, wait in line (FIFO) for an environment: a warm one of `spec`'s function,
        handed over busy, or None when room was made for a cold start (start it before the next
        await). Raises asyncio.TimeoutError after `timeout` seconds, or when the engine stops."""
        future: asyncio.Future[Environment | None] = asyncio.get_running_loop().create_future()
        waiter = (spec, future)
        self.waiters.append(waiter)
        try:
            await asyncio.wait((future,), timeout=timeout)
        except BaseException:  # cancelled: what was handed over goes to the next in line
            self._abandon(waiter)
            raise
        if not future.done() or future.cancelled():
            self._abandon(waiter)
            raise asyncio.TimeoutError
        env = future.result()
        if env is None:
            self.granted -= 1
        return env

    def _abandon(self, waiter: tuple[FunctionSpec, asyncio.Future[Environment | None]]) -> None:
        future = waiter[1]
        if not future.done():
            future.cancel()
            with contextlib.suppress(ValueError):
                self.waiters.remove(waiter)
        elif not future.cancelled():
            env = future.result()
            if env is None:
                self.granted -= 1
                self._grant()
            else:
                self.release(env, keep=True)

    def _grant(self) -> None:
        """Room under the cap goes to the first waiters: they cold-start."""
        while self.waiters and not self.closing and len(self.live) + self.granted < self.settings.max_environments:
            _, future = self.waiters.popleft()
            if not future.done():
                self.granted += 1
                future.set_result(None)

    def _hand_over(self, env: Environment) -> bool:
        """A released environment goes to the first waiter: to it directly when it waits for the
        same function and code, else reaped to make room for it. False when nobody waits."""
        while self.waiters and not self.closing:
            spec, future = self.waiters[0]
            if future.done():
                self.waiters.popleft()
                continue
            if spec.name == env.spec.name and spec.code_sha == env.spec.code_sha:
                self.waiters.popleft()
                env.state = "busy"
                self.pool(spec.name).busy.add(env)
                future.set_result(env)
            else:
                self.kill(env, "reaped")  # its room goes to the waiter (_forget → _grant)
            return True
        return False

    async def _start_extension(self) -> None:
        from samlite.core.runtime.extensions import ParametersSecretsExtension

        extension = ParametersSecretsExtension(self.aws_endpoint_url, SESSION_TOKEN, self.settings.region)
        self.extension_port = await extension.start()
        self.extension = extension

    async def cold_start(self, spec: FunctionSpec, init_limit_s: float,
                         tail: list[str] | None = None) -> tuple[Environment, Reply]:
        """A new busy environment and its init reply ("ready", "ie", "timeout" or "lost")."""
        interpreter = resolve(spec.runtime, spec.architectures)
        if interpreter.kind == "python":
            env = Environment(spec, interpreter, self.sink)
        elif self.runtime_api_environment is not None:
            # nodejs* / provided*: the second kind of environment, driven over the Runtime API.
            env = self.runtime_api_environment(spec, interpreter, self.sink)
        else:
            raise RuntimeError(f"runtime {spec.runtime} needs the Runtime API environment")
        env.tail = tail
        env.state = "busy"
        pool = self.pool(spec.name)
        pool.busy.add(env)
        self.live.add(env)
        self.all.add(env)
        started = time.perf_counter()
        try:
            if spec.parameters_secrets and self.extension is None:
                await self._start_extension()
            await self._launch(env)
        except BaseException:
            self.kill(env, "init")
            raise
        for hook in self.spawn_hooks:
            try:
                hook(env)
            except Exception:  # a hook must not fail the invocation
                log.exception("spawn hook failed for environment %s", env.id)
        assert env.ready is not None
        timer = asyncio.get_running_loop().call_later(init_limit_s, env.kill, "timeout")
        try:
            reply = await env.ready
        finally:
            timer.cancel()
        env.init_ms = (time.perf_counter() - started) * 1000.0
        if reply[0] == "ready":
            env.rss_kb = int(reply[1].get("m", 0))
        return env, reply

    async def _launch(self, env: Environment) -> None:
        if env.interpreter.kind != "python":
            await env.launch(self)  # type: ignore[attr-defined]
            return
        spec = env.spec
        env.tmpdir = self.settings.envs_dir / env.id
        env.tmpdir.mkdir(parents=True, exist_ok=True)
        env.cgroup = _make_cgroup(env.id, spec.memory_size) if self.use_cgroups else None
        environ = build_environment(spec, self.settings, self.aws_endpoint_url, env.stream, env.tmpdir,
                                    self.extension_port)
        config: dict[str, Any] = {
            "env": environ,
            "cwd": str(spec.code_dir),
            "handler": spec.handler,
            "paths_first": [str(spec.code_dir), *(str(Path(layer) / "python") for layer in spec.layer_dirs)],
            "paths_last": [] if env.interpreter.is_engine else engine_site_packages(),
            "cgroup": str(env.cgroup) if env.cgroup else None,
        }
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        try:
            if env.interpreter.is_engine and self.use_zygote:
                await self.zygote.spawn(env, config, [theirs.fileno(), out_w])
                assert env.pid is not None
                self.by_pid[env.pid] = env
                if env.pid in self.early_exits:
                    self._on_exit(env.pid, self.early_exits.pop(env.pid))
            else:
                proc = await asyncio.create_subprocess_exec(
                    env.interpreter.path, str(bootstrap_path()), "--worker", str(theirs.fileno()),
                    pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                    env=environ, cwd=str(spec.code_dir), start_new_session=True,
                )
                env.pid = proc.pid
                self.by_pid[proc.pid] = env
                loop.create_task(self._watch(proc))
                ours.sendall(encode(config))
        finally:
            theirs.close()
            os.close(out_w)
        ours.setblocking(False)
        transport, _ = await loop.create_unix_connection(lambda: _EnvProtocol(env), sock=ours)
        env.transport = transport
        await loop.connect_read_pipe(lambda: _PipeProtocol(env), os.fdopen(out_r, "rb", 0))

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        returncode = await proc.wait()
        self._on_exit(proc.pid, returncode)

    def _on_exit(self, pid: int, returncode: int) -> None:
        env = self.by_pid.pop(pid, None)
        if env is None:
            self.early_exits[pid] = returncode
            return
        self._forget(env)
        env._on_exit(returncode)

    def _forget(self, env: Environment) -> None:
        if env in self.live:
            self.live.discard(env)
            if self.waiters:
                self._grant()
        pool = self.pools.get(env.spec.name)
        if pool is not None:
            pool.busy.discard(env)
            with contextlib.suppress(ValueError):
                pool.idle.remove(env)

    # -- release and removal --
    def release(self, env: Environment, keep: bool) -> None:
        """Back to the idle pool after an invocation, or killed when it must not be reused."""
        pool = self.pool(env.spec.name)
        pool.busy.discard(env)
        env.tail = None
        env.request_id = ""
        if not keep or not env.alive:
            self.kill(env, env.kill_reason or "retired")
            return
        env.last_used = time.monotonic()
        if self.waiters and self._hand_over(env):
            return
        env.state = "idle"
        pool.idle.append(env)

    def kill(self, env: Environment, reason: str) -> None:
        self._forget(env)
        if env.state == "dead":
            return
        env.kill(reason)
        if env.pid is None:
            # Never started: nothing will report an exit.
            env._on_exit(-signal.SIGKILL)
            self.all.discard(env)

    def retire(self, name: str, current_sha: str | None) -> None:
        """Idle environments of other code versions stop now; busy ones after their invocation
        (release() is told not to keep them)."""
        pool = self.pools.get(name)
        if pool is None:
            return
        for env in list(pool.idle):
            if current_sha is None or env.spec.code_sha != current_sha:
                self.kill(env, "retired")
        if current_sha is None and not pool.busy and not pool.idle:
            self.pools.pop(name, None)

    def busy_count(self, name: str) -> int:
        pool = self.pools.get(name)
        return len(pool.busy) if pool else 0

    # -- background work --
    async def _reap_loop(self) -> None:
        interval = max(0.05, min(5.0, self.settings.idle_ttl / 4))
        while True:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - self.settings.idle_ttl
            for pool in list(self.pools.values()):
                for env in [e for e in pool.idle if e.last_used < cutoff]:
                    self.kill(env, "reaped")
            self.all = {env for env in self.all if env.state != "dead"}

    async def _sample_loop(self) -> None:
        """No cgroup: sample RSS of busy workers and kill those over MemorySize."""
        while True:
            await asyncio.sleep(RSS_SAMPLE_S)
            for pool in list(self.pools.values()):
                for env in list(pool.busy):
                    if env.pid is None or env.cgroup is not None or not env.alive:
                        continue
                    rss = _rss_kb(env.pid)
                    env.rss_kb = max(env.rss_kb, rss)
                    if rss > env.spec.memory_size * 1024:
                        env.oom = True
                        env.kill("oom")

    async def stop(self) -> None:
        self.closing = True
        for _, future in self.waiters:
            future.cancel()  # the waiter gives up (TimeoutError) instead of cold-starting now
        self.waiters.clear()
        for task in self._tasks:
            task.cancel()
        for env in list(self.all):
            self.kill(env, "shutdown")
        waits = [env.exit_code(2.0) for env in list(self.all) if env.pid is not None]
        if waits:
            await asyncio.gather(*waits)
        await self.zygote.stop()
        if self.runtime_api is not None:
            self.runtime_api.close()
        if self.extension is not None:
            self.extension.close()
        for env in list(self.all):
            if env.state != "dead":
                # No exit notice (its zygote died before it): clean up its tmpdir and cgroup anyway.
                env._on_exit(-signal.SIGKILL)
        self.all.clear()
