"""The SQLite database: connections, pragmas, migrations and short write transactions.

Two connections share one file in WAL mode. Writes go through ``_writer`` one transaction at a
time (``BEGIN IMMEDIATE`` takes the write lock up front, so ``busy_timeout`` applies instead of a
deferred transaction failing with SQLITE_BUSY when it upgrades). Reads go through ``_reader`` and
see the last committed snapshot, never a half-done write transaction of this process.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5_000
THREAD_STOP_SECONDS = 2.0
MIGRATIONS_PACKAGE = "storage.migrations"


def utc_now() -> str:
    """The current time as every table stores it: ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def escape_like(text: str) -> str:
    """``text`` taken literally in ``LIKE ? ESCAPE '\\'``: what a user types is no pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DatabaseError(RuntimeError):
    """The database file cannot be opened or migrated."""


def _migration_files() -> list[tuple[int, str, str]]:
    """Return ``(version, name, sql)`` for every ``NNN_name.sql`` file, in version order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        number, _, _ = name.partition("_")
        if not number.isdigit():
            raise DatabaseError(f"migration file {name!r} does not start with a number")
        found.append((int(number), name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError(f"two migration files share a number: {sorted(versions)}")
    return found


class Database:
    """An open kobo database. Create it with :meth:`open`, release it with :meth:`close`."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        # Bumped after every committed write of this process; caches compare it for free.
        self.write_generation = 0

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating and migrating as needed); raises DatabaseError naming the file."""
        path = Path(path)
        writer = reader = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = await cls._connect(path)
            await writer.execute("PRAGMA journal_mode=WAL")
            await cls._migrate(writer)
            reader = await cls._connect(path)
        except BaseException as exc:
            for conn in (reader, writer):
                if conn is not None:
                    await conn.close()
            if isinstance(exc, OSError | sqlite3.Error):
                raise DatabaseError(f"cannot open database {path}: {exc}") from exc
            raise
        return cls(path, writer, reader)

    @staticmethod
    async def _connect(path: Path) -> aiosqlite.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing implicit.
        conn = aiosqlite.connect(path, isolation_level=None)
        try:
            await conn
        except BaseException:
            # aiosqlite stops the worker thread of a failed open without waiting for it; if the
            # loop closes first, the thread reports "Event loop is closed" on its way out.
            await asyncio.to_thread(conn._thread.join, THREAD_STOP_SECONDS)
            raise
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA foreign_keys=ON")
            # The first statement that reads the file: fails on a file that is not SQLite.
            await conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            # The connection's worker thread is not a daemon: left open, it keeps the
            # process alive after the error has been reported.
            await conn.close()
            raise
        return conn

    @staticmethod
    async def _migrate(conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cur:
            (current,) = await cur.fetchone()
        for version, name, sql in _migration_files():
            if version <= current:
                continue
            log.info("applying migration %s", name)
            # executescript would COMMIT on its own; run the statements inside one transaction
            # so that a failing migration leaves the file at the previous version.
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_statements(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at)"
                    " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    (version, name),
                )
                await conn.execute("COMMIT")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
        return row["v"]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One short write transaction; commits on success, rolls back on any exception."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")
            self.write_generation += 1

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._reader.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._reader.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when another connection commits."""
        row = await self.fetchone("PRAGMA data_version")
        return row[0]

    async def ping(self) -> bool:
        try:
            await self.fetchone("SELECT 1")
        except (sqlite3.Error, ValueError):
            return False
        return True

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            try:
                await conn.close()
            except (sqlite3.Error, ValueError):
                log.exception("closing the database connection failed")


def _split_statements(sql: str) -> list[str]:
    """Split a migration script into complete statements (handles ``;`` inside strings)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        raise DatabaseError(f"incomplete SQL statement in migration: {current.strip()[:60]!r}")
    return statements
