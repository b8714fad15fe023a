"""Last-seen sightings: robots without an assignment are bounded, in memory and in the table."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from storage.assignments import AssignmentRepository
from storage.database import Database
from storage.last_seen import LastSeenRecorder

AIKO = {"by_id": "1001", "by_name": "Aiko"}
CAP = 50


async def _rows(db: Database) -> dict[int, str]:
    rows = await db.fetchall("SELECT stack_id, address FROM robot_last_seen")
    return {row["stack_id"]: row["address"] for row in rows}


async def test_a_flood_of_made_up_ids_keeps_only_the_newest_unassigned(db, caplog):
    repo = AssignmentRepository(db)
    for stack_id in (3, 7):
        await repo.assign(stack_id, f"ft:gpt-4o-mini:acme:s{stack_id}:A{stack_id}", **AIKO)
    recorder = LastSeenRecorder(db, max_unassigned=CAP)
    recorder.record(3, "10.0.0.3", assigned=True)
    recorder.record(7, "10.0.0.7", assigned=True)

    for stack_id in range(1_000, 21_000):  # 20,000 made-up ids from someone on the Wi-Fi
        recorder.record(stack_id, "10.0.0.66")
    assert recorder.pending == 2 + CAP  # memory between flushes is bounded too

    with caplog.at_level(logging.WARNING, logger="storage.last_seen"):
        assert await recorder.flush() == 2 + CAP

    rows = await _rows(db)
    assert rows[3] == "10.0.0.3" and rows[7] == "10.0.0.7"
    assert set(rows) - {3, 7} == set(range(21_000 - CAP, 21_000))  # the most recent ones
    [warning] = [r for r in caplog.records if r.name == "storage.last_seen"]
    assert "LAST_SEEN_MAX_UNASSIGNED=50" in warning.getMessage()
    assert f"forgot the {20_000 - CAP} seen longest ago" in warning.getMessage()
    overview = await repo.overview()
    assert len(overview) == 2 + CAP


async def test_older_unassigned_rows_make_way_and_assigned_ones_stay(db):
    repo = AssignmentRepository(db)
    await repo.assign(1, "ft:gpt-4o-mini:acme:one:A1", **AIKO)
    # Rows left from before the cap, all older than anything recorded now.
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO robot_last_seen (stack_id, seen_at, address) VALUES (?, ?, ?)",
            [(sid, "2025-01-01T00:00:00+00:00", "old") for sid in range(1, 201)],
        )
    recorder = LastSeenRecorder(db, max_unassigned=CAP)
    for stack_id in range(500, 510):
        recorder.record(stack_id, "new")

    await recorder.flush()

    rows = await _rows(db)
    assert rows[1] == "old"  # assigned: kept however old
    assert set(range(500, 510)) <= set(rows)
    assert len([sid for sid in rows if sid != 1]) == CAP


async def test_a_robot_seen_again_counts_as_new(db):
    recorder = LastSeenRecorder(db, max_unassigned=3)
    for stack_id in (1, 2, 3, 1, 4):  # 1 asked again after 3: 2 is now the oldest
        recorder.record(stack_id, "10.0.0.1")

    await recorder.flush()

    assert set(await _rows(db)) == {1, 3, 4}


async def test_zero_keeps_no_unassigned_robot(db):
    await AssignmentRepository(db).assign(2, "ft:gpt-4o-mini:acme:two:A2", **AIKO)
    recorder = LastSeenRecorder(db, max_unassigned=0)
    recorder.record(2, "10.0.0.2", assigned=True)
    recorder.record(9, "10.0.0.9")

    await recorder.flush()

    assert await _rows(db) == {2: "10.0.0.2"}


async def test_a_failed_flush_keeps_the_sightings_within_the_bound(db):
    await AssignmentRepository(db).assign(500, "ft:gpt-4o-mini:acme:s500:A5", **AIKO)
    recorder = LastSeenRecorder(db, max_unassigned=CAP)
    for stack_id in range(1, 101):
        recorder.record(stack_id, "10.0.0.1")
    recorder.record(500, "10.0.0.5", assigned=True)
    async with db.transaction() as conn:  # the table is away: the flush fails
        await conn.execute("ALTER TABLE robot_last_seen RENAME TO robot_last_seen_away")

    with pytest.raises(sqlite3.OperationalError):
        await recorder.flush()
    for stack_id in range(101, 131):  # newer sightings meanwhile
        recorder.record(stack_id, "10.0.0.1")

    assert recorder.pending == CAP + 1
    async with db.transaction() as conn:
        await conn.execute("ALTER TABLE robot_last_seen_away RENAME TO robot_last_seen")
    await recorder.flush()
    assert set(await _rows(db)) == {500} | set(range(131 - CAP, 131))
