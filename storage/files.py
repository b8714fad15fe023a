"""Read files with a size bound, and write files all or nothing: a crash or a full disk never
leaves a target half-written.

Each content goes to a temporary file beside its target (same folder, so the rename cannot cross
file systems), is flushed to disk, and only when every one is written are they renamed into
place. A failure removes the temporary files; the targets keep what they had.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(target: Path) -> Path:
    """Hidden, unique, and ending in ``.tmp``, so a crash's leftovers are easy to recognise."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")


def write_atomically(contents: Mapping[Path, bytes]) -> None:
    """Write every ``target: content`` pair, or none of them. Raises OSError."""
    written: dict[Path, Path] = {}
    try:
        for target, content in contents.items():
            temporary = temporary_name(target)
            # 0o666 minus the umask, as for any new file (not mkstemp's 0o600).
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            written[target] = temporary
            with open(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
        for target, temporary in written.items():
            os.replace(temporary, target)
        for folder in {target.parent for target in written}:
            _sync_folder(folder)  # the renames themselves survive a power cut
    finally:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)  # gone already when renamed


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class FileTooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def read_bounded(path: Path, limit: int) -> bytes:
    """The file's bytes, reading no more than ``limit`` + 1 even if it grows meanwhile; raises
    :class:`FileTooBig` (with the size) beyond ``limit``, OSError when it cannot be read."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
        if len(data) > limit:
            raise FileTooBig(max(os.fstat(handle.fileno()).st_size, len(data)))
    return data
