"""Who owns a state dir: checks shared by the engine process and the CLI that starts and stops it.

The flock on `engine.lock` is the only proof that an engine runs on a home: it dies with the
process, so engine.json and control.sock may be stale (a SIGKILL leaves them), and the pid in
engine.json may since belong to an unrelated process. Only the lock holder may remove those files,
and the CLI signals a pid only while the lock is held and the pid's command line is samlite's.
Kept to the standard library: every CLI command imports it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator

from samlite.config import Settings
from samlite.errors import StateError

# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), the terminating NUL included.
MAX_SOCKET_PATH = 103 if os.uname().sysname == "Darwin" else 107


def prepare_home(settings: Settings) -> None:
    """Create SAMLITE_HOME private to this user, or explain in one line why it cannot be used."""
    home = settings.home
    if home.exists() and not home.is_dir():
        raise StateError(f"SAMLITE_HOME {home} is not a folder", hint="Set SAMLITE_HOME to a folder.")
    if len(os.fsencode(settings.control_socket)) > MAX_SOCKET_PATH:
        raise StateError(
            f"SAMLITE_HOME {home} is too long for the engine's control socket "
            f"({len(os.fsencode(settings.control_socket))} bytes; Unix sockets allow {MAX_SOCKET_PATH})",
            hint="Set SAMLITE_HOME to a shorter path, e.g. ~/.samlite.")
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if home.stat().st_uid == os.geteuid():
            os.chmod(home, 0o700)  # an older home was 0755: other users could read state.db and code
        # The log is the first file the engine writes: opening it proves the folder is writable.
        os.close(os.open(settings.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    except OSError as exc:
        raise home_error(settings, exc) from None


def make_private(settings: Settings) -> None:
    """From here on the engine creates files 0600 and folders 0700 (state.db holds message
    bodies, code/ the functions); files an older version or the CLI left open lose group/other bits."""
    os.umask(0o077)
    with contextlib.suppress(OSError):
        for entry in os.scandir(settings.home):
            if entry.is_symlink():
                continue
            mode = entry.stat().st_mode & 0o7777
            if mode & 0o077 and entry.stat().st_uid == os.geteuid():
                os.chmod(entry.path, mode & ~0o077)


OPEN_FILES_WANTED = 65536


def raise_open_file_limit(wanted: int = OPEN_FILES_WANTED) -> int:
    """Lift the engine's soft limit of open files toward the hard one, as many servers do at start,
    and return the limit it runs with. The engine holds a socket per connection and per warm
    environment and a file per large S3 object, and the usual soft limit (1,024 on many Linux
    desktops, 256 on macOS) would turn a few hundred such objects into EMFILE on every socket."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # some systems refuse values the hard limit allows (macOS: OPEN_MAX)
        return soft
    return target


def home_error(settings: Settings, exc: OSError) -> StateError:
    if exc.errno == errno.ENOSPC:
        return StateError(f"the disk holding SAMLITE_HOME {settings.home} is full",
                          hint="Free some space, or set SAMLITE_HOME to a folder on another disk.")
    return StateError(f"cannot use SAMLITE_HOME {settings.home}: {exc.strerror or exc}",
                      hint="Set SAMLITE_HOME to a folder you can write to (default ~/.samlite).")


def engine_lock_held(settings: Settings) -> bool:
    """True while some process (an engine) holds the flock on engine.lock."""
    try:
        fd = os.open(settings.home / "engine.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we got
    return False


def is_this_homes_engine(settings: Settings, pid: int) -> bool:
    """The pid is an engine on this home: the home's lock is held and the process is samlite's."""
    if not engine_lock_held(settings):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return not Path("/proc/self").exists()  # no procfs (macOS): the lock is all we can check
    return any(b"samlite" in arg for arg in cmdline)


@contextlib.contextmanager
def start_lock(settings: Settings) -> Iterator[None]:
    """Serialises CLI callers that start an engine: the second one finds the first one's engine."""
    fd = os.open(settings.home / "start.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
