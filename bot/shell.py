"""What the shell commands share: their exit codes, who they act as, the checks on arguments that
argparse cannot word in the reader's language, the database they open, and the outputs they may
write (storage.outputs)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from config import DatasetStoreSettings
from curation.store import Person
from i18n import LocalizedError, msg
from storage.database import Database, DatabaseError
from storage.outputs import Protected

EXIT_OK = 0
EXIT_FAILED = 1  # the command was fine; something it depends on failed (an upstream, the disk)
EXIT_BAD_INPUT = 2  # refused: nothing was changed or written
# Who a change made from the shell is recorded as (/stacks shows the name).
SHELL_USER = Person("cli", "command line")
# SQLite's INTEGER: a larger id or page cannot be a row (and overflows the driver).
MAX_SQLITE_INTEGER = 2**63 - 1
MAX_PAGE = 1_000_000


def shown(argument: str) -> str:
    """An argument as a message may show it, even one that is not valid UTF-8."""
    return argument.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def refuse_undecodable(argv: Sequence[str]) -> None:
    """Refuse an argument that is not valid UTF-8 (Python keeps such bytes as surrogates, which
    nothing can print or store)."""
    for argument in argv:
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalizedError(msg("shell.argument_not_utf8", argument=shown(argument))) from None


def whole_number(text: str, name: str, *, low: int = 1, high: int = MAX_SQLITE_INTEGER) -> int:
    """``text`` as an integer from ``low`` to ``high``; ``name`` names it in the message."""
    cleaned = text.strip()
    digits = cleaned.removeprefix("-")
    # 30 digits: far past any bound, and int() never sees a long text.
    if digits.isascii() and digits.isdigit() and len(digits) <= 30:
        number = int(cleaned)
        if low <= number <= high:
            return number
    raise LocalizedError(
        msg("shell.not_a_whole_number", name=name, value=shown(text)[:40], low=low, high=high)
    )


def page_number(text: str) -> int:
    return whole_number(text, "--page", high=MAX_PAGE)


async def open_existing_database(path: Path) -> Database:
    """The bot's database at ``path``; refused when there is none (opening would make a new,
    empty one) or it cannot be opened."""
    if not await asyncio.to_thread(path.is_file):
        raise LocalizedError(msg("curation.cli.no_database", path=str(path)))
    try:
        return await Database.open(path)
    except DatabaseError as exc:
        raise LocalizedError(
            msg("curation.cli.cannot_open", path=str(path), reason=str(exc.__cause__ or exc))
        ) from None


def protected_by(
    settings: DatasetStoreSettings, inputs: Mapping[str, Path] | None = None
) -> Protected:
    """What an output must not replace: kobo's database and data folder, and ``inputs`` (by the
    name messages give them)."""
    return Protected(settings.database_path, settings.data_dir, dict(inputs or {}))
