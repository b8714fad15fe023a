"""Telling a full disk from other failures, so that staff read "the disk is full" rather than
"internal error", and the job (or upload) is refused rather than left half done."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

DISK_FULL = "disk_full"  # the error code of a job or an upload refused for it
# Less free space than this where a training process died: the disk is the likely cause.
LOW_SPACE_BYTES = 1 << 20
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a write refused for want of space."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _FULL_ERRNOS:
            return True
        code = getattr(seen, "sqlite_errorcode", None)
        if isinstance(seen, sqlite3.Error) and code == sqlite3.SQLITE_FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_low_on_space(path: Path) -> bool:
    """Whether the file system holding ``path`` has (almost) no space left (blocking)."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < LOW_SPACE_BYTES


def disk_full_message(data_dir: Path) -> str:
    return (
        f"the disk holding the trainer's data ({data_dir}, DATA_DIR) is full: free some space"
        " and start the job again"
    )
