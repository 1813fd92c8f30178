"""The program inside an execution environment (and the zygote that forks them).

Standard library only: it runs under whatever interpreter the Runtime maps to, without samlite
importable. Two modes:

  bootstrap.py --zygote FD   pre-imports the runtime, then forks one worker per request received
                             on the SOCK_SEQPACKET control socket FD (config JSON + 2 fds: the
                             worker's frame socket and its stdout/stderr pipe) and reports exits.
  bootstrap.py --worker FD   a spawned worker: reads its config as the first frame on socket FD.

A worker imports the handler once (init), reports "ready" or an init error, then serves one
invocation at a time, framed as in protocol.py (kept in sync by tests/unit/test_protocol.py).
print() output and logging records go over the frame socket, so every line reaches the engine
before the result of the invocation that wrote it.
"""

import base64
import importlib
import io
import json
import logging
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback

HEADER = struct.Struct("<II")
# Encoders made once: json.dumps with separators= or default= builds a new encoder per call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))
_HERE = os.path.dirname(os.path.abspath(__file__))
_THIS_FILE = os.path.abspath(__file__)


# --- framing -------------------------------------------------------------------------------


class Channel:
    """Blocking frame socket; sends are locked because handler threads may print."""

    def __init__(self, sock):
        # A timeout makes CPython poll() for POLLIN before each recv(). A task blocked in a bare
        # recv() is woken whenever the engine drains this socket's replies (the write-space
        # wakeup shares its wait queue), costing an extra cross-CPU wakeup per invocation;
        # poll() waiters are woken only for input. The timeout itself is never reached.
        sock.settimeout(365 * 24 * 3600.0)
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=65536)
        self.lock = threading.Lock()

    def send(self, header, body=b""):
        head = _COMPACT.encode(header).encode()
        data = HEADER.pack(len(head), len(body)) + head + body
        with self.lock:
            self.sock.sendall(data)

    def recv(self):
        """(header, body), or None at EOF (the engine went away)."""
        raw = self.rfile.read(8)
        if len(raw) < 8:
            return None
        hlen, blen = HEADER.unpack(raw)
        head = self.rfile.read(hlen)
        body = self.rfile.read(blen) if blen else b""
        if len(head) < hlen or len(body) < blen:
            return None
        return json.loads(head.decode()), body


# --- output capture ------------------------------------------------------------------------


class _BinaryOut(io.RawIOBase):
    def __init__(self, text):
        self._text = text

    def writable(self):
        return True

    def write(self, data):
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)


class LogStream(io.TextIOBase):
    """sys.stdout / sys.stderr: complete lines go to the engine as "o" frames at once;
    a trailing partial line waits for its newline or the end of the invocation."""

    def __init__(self, channel, fd):
        self._channel = channel
        self._fd = fd
        self._partial = ""
        self.buffer = _BinaryOut(self)

    encoding = "utf-8"
    errors = "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._fd

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        if not text:
            return 0
        cut = text.rfind("\n")
        if cut < 0:
            self._partial += text
            return len(text)
        chunk = self._partial + text[:cut]
        self._partial = text[cut + 1:]
        self._channel.send({"t": "o"}, chunk.encode("utf-8", "replace"))
        return len(text)

    def flush(self):
        pass

    def drain(self):
        if self._partial:
            chunk, self._partial = self._partial, ""
            self._channel.send({"t": "o"}, chunk.encode("utf-8", "replace"))


class _Current:
    request_id = ""


class LambdaLogHandler(logging.Handler):
    """Root handler in Lambda's text format; each record is one log event."""

    def __init__(self, channel):
        super().__init__()
        self._channel = channel
        fmt = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                                "%Y-%m-%dT%H:%M:%S")
        fmt.converter = time.gmtime
        self.setFormatter(fmt)

    def emit(self, record):
        try:
            if not hasattr(record, "aws_request_id"):
                record.aws_request_id = _Current.request_id
            self._channel.send({"t": "l"}, self.format(record).encode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - logging.Handler.handleError reports it, as the stdlib does
            self.handleError(record)


# --- context object -------------------------------------------------------------


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self):
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]


class ClientContext:
    __slots__ = ["custom", "env", "client"]


def _obj_from_dict(cls, data):
    if data is None:
        return None
    obj = cls()
    for key in cls.__slots__:
        setattr(obj, key, data.get(key) if isinstance(data, dict) else None)
    return obj


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, channel):
        env = os.environ
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms
        self._channel = channel
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity()
        self.client_context = None
        self.tenant_id = None
        if client_context is not None:
            self.client_context = _obj_from_dict(ClientContext, client_context)
            if self.client_context is not None:
                self.client_context.client = _obj_from_dict(Client, self.client_context.client)

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, msg):
        self._channel.send({"t": "l"}, str(msg).encode("utf-8", "replace"))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
                "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,"
                "identity=%s,tenant_id=%s])" % (
                    self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
                    self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
                    self.client_context, self.identity, self.tenant_id))


# --- errors --------------------------------------------------------------------------------


class InitFault(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _error_dict(message, error_type, request_id, stack):
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def _user_stack(tb):
    """traceback.format_list of the frames, with our own leading frames removed."""
    frames = traceback.extract_tb(tb)
    for index, frame in enumerate(frames):
        if os.path.abspath(frame.filename) != _THIS_FILE:
            return traceback.format_list(frames[index:])
    return []


def _log_error(channel, error):
    lines = ["[ERROR] %s: %s" % (error["errorType"], error["errorMessage"])]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in error["stackTrace"])
    else:
        lines.append("Traceback (most recent call last):")
    channel.send({"t": "l"}, "\n".join(lines).encode("utf-8", "replace"))


def _default(obj):
    import decimal

    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


_RESULT = json.JSONEncoder(default=_default)  # what json.dumps(result, default=_default) builds


# --- handler loading ------------------------------------------------------------


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise InitFault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, exc)) from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise InitFault("Runtime.BuiltInModuleConflict",
                            "Cannot use built-in module %s as a handler module" % modname)
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise InitFault("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (modname, exc)) from None
    except SyntaxError as exc:
        raise InitFault("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (modname, exc)) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise InitFault("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname)) from None


# --- the worker ----------------------------------------------------------------------------


def _setup(config, channel):
    """Become the environment described by config: env, cwd, sys.path, cgroup, output capture."""
    cgroup = config.get("cgroup")
    if cgroup:
        try:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as fh:
                fh.write(str(os.getpid()))
        except OSError:
            pass
    os.environ.clear()
    os.environ.update(config["env"])
    try:
        time.tzset()
    except AttributeError:
        pass
    os.chdir(config["cwd"])
    first = list(config.get("paths_first", []))
    rest = [p for p in sys.path if p not in first and os.path.abspath(p or ".") != _HERE]
    last = [p for p in config.get("paths_last", []) if p not in rest and p not in first]
    sys.path[:] = first + rest + last
    importlib.invalidate_caches()
    import tempfile

    tempfile.tempdir = None
    sys.argv = [_THIS_FILE]
    sys.stdout = _STREAMS[0] = LogStream(channel, 1)
    sys.stderr = _STREAMS[1] = LogStream(channel, 2)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(LambdaLogHandler(channel))
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    root.setLevel(getattr(logging, level, logging.WARNING) if level else logging.WARNING)


# The handler's stdout and stderr once installed (sys.stdout/stderr as our own type).
_STREAMS: list = [None, None]


def _drain_output():
    """Flush the handler's print()s to the engine (sys.stdout/stderr are our _Output writers)."""
    for stream in (sys.stdout, sys.stderr):
        drain = getattr(stream, "drain", None)
        if drain is not None:
            drain()


def _init(config, channel):
    try:
        return load_handler(config["handler"])
    except InitFault as fault:
        error = _error_dict(fault.message, fault.error_type, "", [])
    except Exception as exc:  # noqa: BLE001 - module-level code raised: Runtime.*Error, as Lambda reports
        error = _error_dict(str(exc), type(exc).__name__, "", _user_stack(exc.__traceback__))
    except SystemExit as exc:
        _drain_output()
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    _log_error(channel, error)
    _drain_output()
    channel.send({"t": "ie", "et": error["errorType"]}, json.dumps(error).encode())
    return None


def _maxrss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def serve(config, channel):
    _setup(config, channel)
    handler = _init(config, channel)
    if handler is None:
        # Stay until the engine closes us: the invocation that caused the init reports the error.
        while channel.recv() is not None:
            pass
        return
    channel.send({"t": "ready", "m": _maxrss_kb()})
    out, err = _STREAMS
    environ = os.environ
    while True:
        frame = channel.recv()
        if frame is None:
            return
        header, body = frame
        request_id = header["id"]
        _Current.request_id = request_id
        trace = header.get("trace")
        if not trace:
            rand = os.urandom(20).hex()  # one getrandom call for both ids
            trace = "Root=1-%08x-%s;Parent=%s;Sampled=0" % (int(time.time()), rand[:24], rand[24:])
        environ["_X_AMZN_TRACE_ID"] = trace
        client_context = None
        if header.get("cc"):
            try:
                client_context = json.loads(base64.b64decode(header["cc"]))
            except ValueError:
                client_context = None
        reply = _invoke(handler, header, body, request_id, client_context, channel)
        # Flush output before the result so no line of this invocation arrives late.
        out.drain()
        err.drain()
        reply[0]["m"] = _maxrss_kb()
        channel.send(*reply)


def _invoke(handler, header, body, request_id, client_context, channel):
    try:
        event = json.loads(body) if body else {}
    except (ValueError, RecursionError) as exc:
        error = _error_dict("Unable to unmarshal input: %s" % exc, "Runtime.UnmarshalError", request_id, [])
        _log_error(channel, error)
        return {"t": "e", "et": error["errorType"]}, json.dumps(error).encode()
    context = LambdaContext(request_id, header["dl"], header.get("arn"), client_context, channel)
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - any handler error is the invocation's error payload
        error = _error_dict(str(exc), type(exc).__name__, request_id, _user_stack(exc.__traceback__))
        _log_error(channel, error)
        return {"t": "e", "et": error["errorType"]}, json.dumps(error).encode()
    except SystemExit as exc:
        # sys.exit() in a handler ends the runtime, as on Lambda (Runtime.ExitError).
        _drain_output()
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    if isinstance(result, (bytes, bytearray, memoryview)):
        return {"t": "r"}, bytes(result)
    try:
        return {"t": "r"}, _RESULT.encode(result).encode()
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        error = _error_dict("Unable to marshal response: %s" % exc, "Runtime.MarshalError", request_id, [])
        _log_error(channel, error)
        return {"t": "e", "et": error["errorType"]}, json.dumps(error).encode()


def worker_main(config, sock):
    channel = Channel(sock)
    try:
        serve(config, channel)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        try:
            _drain_output()
        except Exception:  # noqa: BLE001 - the process exits next; nothing is left to report to
            pass
    os._exit(0)


# --- the zygote ----------------------------------------------------------------------------


def _preimport():
    """What every worker needs, imported once so a fork starts warm."""
    import datetime  # noqa: F401
    import decimal  # noqa: F401
    import encodings.idna  # noqa: F401
    import importlib.util  # noqa: F401
    import logging.handlers  # noqa: F401
    import tempfile  # noqa: F401
    import uuid  # noqa: F401
    json.dumps({"warm": [1, 2.0]})
    json.loads('{"warm": [1, 2.0]}')


def zygote_main(ctl_fd):
    ctl = socket.socket(fileno=ctl_fd)
    ctl.setblocking(True)
    _preimport()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # The engine may die without closing us cleanly; stop on SIGTERM too.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        ready, _, _ = select.select([ctl.fileno(), wake_r], [], [])
        if wake_r in ready:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
            _reap(ctl)
        if ctl.fileno() in ready:
            msg, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 20, 4)
            if not msg:
                return
            request = json.loads(msg)
            pid = os.fork()
            if pid == 0:
                try:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    ctl.close()
                    os.close(wake_r)
                    os.close(wake_w)
                    os.setsid()
                    sock_fd, log_fd = fds
                    os.dup2(log_fd, 1)
                    os.dup2(log_fd, 2)
                    os.close(log_fd)
                    worker_main(request, socket.socket(fileno=sock_fd))
                finally:
                    os._exit(70)
            for fd in fds:
                os.close(fd)
            ctl.send(json.dumps({"t": "spawned", "k": request["k"], "pid": pid}).encode())
            _reap(ctl)


def _reap(ctl):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ctl.send(json.dumps({"t": "exit", "pid": pid, "rc": os.waitstatus_to_exitcode(status)}).encode())


def main(argv):
    mode, fd = argv[1], int(argv[2])
    if mode == "--zygote":
        zygote_main(fd)
        return
    if mode == "--worker":
        sock = socket.socket(fileno=fd)
        channel = Channel(sock)
        frame = channel.recv()
        if frame is None:
            return
        config = frame[0]
        try:
            serve(config, channel)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return
    raise SystemExit("usage: bootstrap.py --zygote FD | --worker FD")


if __name__ == "__main__":
    main(sys.argv)
