"""Where a command may write a file the user named, and how: the one guard every command that
writes uses (``python -m bot template``, ``augment``, ``datasets export``, and any later one).

An output is refused, before anything is written, when writing it would replace something that
must survive a mistyped ``-o``: kobo's own database (with its WAL and journal files), anything in
kobo's data folder (stored datasets, trained models), one of the command's inputs, another output
of the same command, or anything that is not a regular file (a folder, a FIFO, a device node such
as ``/dev/full``: renaming over it would replace the node itself). Symbolic and hard links count as
what they point at. What is accepted is written through :func:`storage.files.write_atomically`
(a temporary file in the same folder, fsync, rename), through symlinks to the file they name.

Discord-free and torch-free: the trainer and any other command can use it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from i18n import LocalizedError, msg
from storage.files import write_atomically

# SQLite's companions of a database file: replacing one of them loses committed data too.
DATABASE_COMPANIONS = ("", "-wal", "-shm", "-journal")


class UnsafeOutput(LocalizedError):
    """Writing this output would destroy something; the message names the path and why."""


@dataclass(frozen=True)
class Protected:
    """What no output may replace. ``inputs``: each input's name in messages (its flag or the
    argument's name) and its path."""

    database: Path | None = None
    data_dir: Path | None = None
    inputs: Mapping[str, Path] = field(default_factory=dict)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)  # hard links too
    except OSError:
        return _real(first) == _real(second)  # one of them does not exist (yet)


def _existing_mode(path: Path) -> int | None:
    """The mode of what ``path`` names, through symlinks; None when nothing is there yet."""
    try:
        return os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # writing it fails with the system's own words, or creates it


def _check(flag: str, path: Path, protected: Protected) -> Path:
    mode = _existing_mode(path)
    if mode is not None and not stat.S_ISREG(mode):
        raise UnsafeOutput(msg("shell.output.not_a_file", flag=flag, path=str(path)))
    if protected.database is not None:
        database = protected.database
        for suffix in DATABASE_COMPANIONS:
            if _same_file(path, database.with_name(database.name + suffix)):
                raise UnsafeOutput(
                    msg("shell.output.database", flag=flag, path=str(path), database=str(database))
                )
    target = _real(path)
    if protected.data_dir is not None and target.is_relative_to(_real(protected.data_dir)):
        raise UnsafeOutput(
            msg(
                "shell.output.data_dir",
                flag=flag,
                path=str(path),
                data_dir=str(protected.data_dir),
            )
        )
    for name, source in protected.inputs.items():
        if _same_file(path, source):
            raise UnsafeOutput(msg("shell.output.input", flag=flag, path=str(path), input=name))
    return target


def safe_targets(outputs: Mapping[str, Path], protected: Protected) -> dict[str, Path]:
    """Where each output (by its flag) lands once links are followed; raises
    :class:`UnsafeOutput` for the first one that must not be written, OSError when a path cannot
    be looked at."""
    targets: dict[str, Path] = {}
    for flag, path in outputs.items():
        target = _check(flag, path, protected)
        for other, earlier in targets.items():
            if target == earlier or _same_file(path, outputs[other]):
                raise UnsafeOutput(
                    msg("shell.output.same_file", flag=flag, path=str(path), other=other)
                )
        targets[flag] = target
    return targets


def write_outputs(outputs: Mapping[str, tuple[Path, bytes]], protected: Protected) -> None:
    """Check every output (again: time passed since the command started) and write them all
    or none. Raises :class:`UnsafeOutput`, or OSError when the system refuses the write."""
    targets = safe_targets({flag: path for flag, (path, _) in outputs.items()}, protected)
    write_atomically({targets[flag]: content for flag, (_, content) in outputs.items()})
