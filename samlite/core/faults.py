"""Unexpected failures serving an API call, said in the user's terms where we can.

A full disk is the one the user can act on: SQLite reports it as SQLITE_FULL ("database or disk
is full"), plain file writes as ENOSPC. The answer and the engine log both say so; reads keep
working because they need no new pages.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from pathlib import Path

from samlite.core.aws_api import AwsError

log = logging.getLogger("samlite.engine")

SQLITE_FULL = 13


def is_disk_full(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL:
            return True
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def internal_error(exc: BaseException, what: str, home: Path) -> AwsError:
    """Log the failure and return the error the caller gets."""
    if is_disk_full(exc):
        message = (f"The disk holding the samlite state ({home}) is full: nothing can be written. "
                   "Free some space; reads still work.")
        log.error("%s failed: %s", what, message)
        return AwsError("ServiceUnavailable", message, 503, sender_fault=False)
    log.error("internal error serving %s", what, exc_info=exc)
    return AwsError("ServiceException", "Internal error", 500, sender_fault=False)
