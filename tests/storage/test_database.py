"""The database core: migrations, pragmas, transactions, change detection."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
from importlib import resources

import pytest

from storage.database import BUSY_TIMEOUT_MS, Database, DatabaseError


async def _versions(db: Database) -> list[tuple[int, str, str]]:
    rows = await db.fetchall("SELECT version, name, applied_at FROM schema_version ORDER BY 1")
    return [(row["version"], row["name"], row["applied_at"]) for row in rows]


async def _tables(db: Database) -> set[str]:
    rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row["name"] for row in rows}


async def test_empty_file_gets_every_shipped_migration(tmp_path):
    shipped = sorted(
        entry.name
        for entry in resources.files("storage.migrations").iterdir()
        if re.fullmatch(r"\d+_.+\.sql", entry.name)
    )
    db = await Database.open(tmp_path / "new" / "kobo.sqlite3")  # parent folder is created
    try:
        versions = await _versions(db)
        assert [name for _, name, _ in versions] == shipped
        assert [version for version, _, _ in versions] == [int(n.split("_")[0]) for n in shipped]
        assert await db.schema_version() == versions[-1][0]
        assert {"robot_assignments", "assignment_history", "robot_last_seen"} <= (await _tables(db))
    finally:
        await db.close()


async def test_reopening_applies_nothing_twice(tmp_path, caplog):
    path = tmp_path / "kobo.sqlite3"
    db = await Database.open(path)
    before = await _versions(db)
    await db.close()

    with caplog.at_level(logging.INFO, logger="storage.database"):
        db = await Database.open(path)
    try:
        assert await _versions(db) == before  # same rows, same applied_at
        assert "applying migration" not in caplog.text
    finally:
        await db.close()


async def test_older_file_is_upgraded_and_keeps_its_data(tmp_path, migrations):
    (migrations / "001_first.sql").write_text(
        "CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
    )
    path = tmp_path / "kobo.sqlite3"
    db = await Database.open(path)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO pets (name) VALUES ('Mochi')")
    assert await db.schema_version() == 1
    await db.close()

    (migrations / "002_second.sql").write_text(
        "-- a comment line; and a ';' inside a string must not split the statement\n"
        "ALTER TABLE pets ADD COLUMN note TEXT NOT NULL DEFAULT 'a; b';\n"
        "CREATE TABLE toys (id INTEGER PRIMARY KEY,\n"
        "    pet_id INTEGER NOT NULL REFERENCES pets (id));\n"
    )
    db = await Database.open(path)
    try:
        assert [(v, n) for v, n, _ in await _versions(db)] == [
            (1, "001_first.sql"),
            (2, "002_second.sql"),
        ]
        row = await db.fetchone("SELECT name, note FROM pets")
        assert (row["name"], row["note"]) == ("Mochi", "a; b")
        assert "toys" in await _tables(db)
    finally:
        await db.close()


async def test_failing_migration_leaves_the_previous_version(tmp_path, migrations):
    (migrations / "001_first.sql").write_text("CREATE TABLE pets (id INTEGER PRIMARY KEY);\n")
    path = tmp_path / "kobo.sqlite3"
    await (await Database.open(path)).close()

    (migrations / "002_broken.sql").write_text(
        "CREATE TABLE toys (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    with pytest.raises(DatabaseError, match="no such table: no_such_table") as raised:
        await Database.open(path)
    assert str(path) in str(raised.value)

    (migrations / "002_broken.sql").unlink()
    db = await Database.open(path)
    try:
        assert await db.schema_version() == 1
        assert "toys" not in await _tables(db)  # the first statement was rolled back too
    finally:
        await db.close()


async def test_badly_named_migration_is_refused(tmp_path, migrations):
    (migrations / "first.sql").write_text("CREATE TABLE pets (id INTEGER);\n")

    with pytest.raises(DatabaseError, match=re.escape("'first.sql' does not start with a number")):
        await Database.open(tmp_path / "kobo.sqlite3")


async def test_two_migrations_with_one_number_are_refused(tmp_path, migrations):
    (migrations / "001_a.sql").write_text("CREATE TABLE a (id INTEGER);\n")
    (migrations / "001_b.sql").write_text("CREATE TABLE b (id INTEGER);\n")

    with pytest.raises(DatabaseError, match="two migration files share a number"):
        await Database.open(tmp_path / "kobo.sqlite3")


async def test_unopenable_path_is_a_clear_error(tmp_path):
    (tmp_path / "a-directory").mkdir()

    with pytest.raises(DatabaseError, match=r"cannot open database .*a-directory"):
        await Database.open(tmp_path / "a-directory")


async def connection_threads_still_running() -> list[threading.Thread]:
    """aiosqlite's worker threads that do not end (a closed connection's ends at once)."""
    threads = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    for thread in threads:
        await asyncio.to_thread(thread.join, 5)
    return [t for t in threads if t.is_alive()]


async def test_a_file_that_is_not_sqlite_is_refused_untouched_and_nothing_left_open(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: rice, miso, nori\n" * 50)
    before = notes.read_bytes()

    with pytest.raises(DatabaseError, match=r"notes\.txt: file is not a database"):
        await Database.open(notes)

    # A connection left open keeps its (non-daemon) thread, and so the process, alive.
    assert await connection_threads_still_running() == []
    assert notes.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


async def test_wal_foreign_keys_and_busy_timeout_are_on_for_both_connections(tmp_path):
    db = await Database.open(tmp_path / "kobo.sqlite3")
    try:
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
        assert (await db.fetchone("PRAGMA busy_timeout"))[0] == BUSY_TIMEOUT_MS
        async with db.transaction() as writer:
            async with writer.execute("PRAGMA foreign_keys") as cur:
                assert (await cur.fetchone())[0] == 1
            async with writer.execute("PRAGMA busy_timeout") as cur:
                assert (await cur.fetchone())[0] == BUSY_TIMEOUT_MS
    finally:
        await db.close()


async def test_foreign_keys_are_enforced(tmp_path, migrations):
    (migrations / "001_pets.sql").write_text(
        "CREATE TABLE pets (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE toys (id INTEGER PRIMARY KEY, pet_id INTEGER REFERENCES pets (id));\n"
    )
    db = await Database.open(tmp_path / "kobo.sqlite3")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO toys (pet_id) VALUES (42)")
    finally:
        await db.close()


async def test_transaction_commits_and_bumps_the_generation(tmp_path):
    db = await Database.open(tmp_path / "kobo.sqlite3")
    try:
        generation = db.write_generation
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO robot_last_seen (stack_id, seen_at) VALUES (1, '2025-01-01T00:00:00')"
            )
            # Readers never see a write transaction half-way.
            assert await db.fetchall("SELECT * FROM robot_last_seen") == []
        assert db.write_generation == generation + 1
        assert len(await db.fetchall("SELECT * FROM robot_last_seen")) == 1
    finally:
        await db.close()


async def test_failed_transaction_rolls_back_and_keeps_the_generation(tmp_path):
    db = await Database.open(tmp_path / "kobo.sqlite3")
    try:
        generation = db.write_generation
        with pytest.raises(RuntimeError, match="changed my mind"):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO robot_last_seen (stack_id, seen_at) VALUES (1, '2025-01-01')"
                )
                raise RuntimeError("changed my mind")
        assert db.write_generation == generation
        assert await db.fetchall("SELECT * FROM robot_last_seen") == []
        async with db.transaction() as conn:  # the writer is usable again
            await conn.execute(
                "INSERT INTO robot_last_seen (stack_id, seen_at) VALUES (2, '2025-01-01')"
            )
        assert len(await db.fetchall("SELECT * FROM robot_last_seen")) == 1
    finally:
        await db.close()


async def test_data_version_changes_when_another_connection_commits(tmp_path):
    path = tmp_path / "kobo.sqlite3"
    first, second = await Database.open(path), await Database.open(path)
    try:
        version = await first.data_version()
        assert await first.data_version() == version  # stable while nothing happens
        async with second.transaction() as conn:
            await conn.execute(
                "INSERT INTO robot_last_seen (stack_id, seen_at) VALUES (1, '2025-01-01')"
            )
        assert await first.data_version() != version
        assert first.write_generation == 0  # only this process's own commits count there
    finally:
        await first.close()
        await second.close()


async def test_ping_answers_until_closed(tmp_path):
    db = await Database.open(tmp_path / "kobo.sqlite3")
    assert await db.ping() is True
    await db.close()
    assert await db.ping() is False
