"""Whether a process is still there: shared by the CLI (engine stop) and the worker pools."""

from __future__ import annotations

import os


def pid_exists(pid: int) -> bool:
    """kill(pid, 0): cheap (~1 us), but true for a zombie that its parent has not reaped yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_running(pid: int) -> bool:
    """True while the process exists and is not a zombie (an exited daemon waits for its
    reaper, init, which may take a while in containers)."""
    if not pid_exists(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True  # no procfs: trust kill(0)
