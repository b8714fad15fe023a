"""Which encoding ``.env`` is in, as the text editors people actually use save it.

Japanese Windows Notepad saves "ANSI" as Shift_JIS (Microsoft's cp932) and offers UTF-8 (with or
without a BOM, which python-dotenv drops) and UTF-16, so a ``.env`` with ``STAFF_ROLE=スタッフ``
may arrive in any of them. UTF-8 is tried first and cp932 only when that fails; a UTF-16 BOM
picks UTF-16. Anything else is refused with an :class:`EnvFileError` naming the file and line.
"""

from __future__ import annotations

import codecs
from pathlib import Path

# Tried in order; the first that decodes the whole file wins.
ENCODINGS = ("utf-8", "cp932")


class EnvFileError(ValueError):
    """The ``.env`` file exists but cannot be read as text."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")


def env_file_encoding(path: Path) -> str | None:
    """The encoding to read the env file at ``path`` with, or None when there is no such file."""
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EnvFileError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        candidates = ENCODINGS
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:  # NUL characters: a binary file, not settings
            return encoding
    raise EnvFileError(
        path, f"line {_first_bad_line(data)} is not UTF-8 or Shift_JIS text; save it as UTF-8"
    )


def _first_bad_line(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return data.count(b"\n", 0, data.find(b"\x00")) + 1
