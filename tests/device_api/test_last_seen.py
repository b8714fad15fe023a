"""Robots' sightings are buffered in memory and written periodically and at shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from device_api.app import create_app
from storage.assignments import AssignmentRepository
from storage.database import Database
from tests.device_api.conftest import STAFF


async def _boot(http, api, *numbers: int) -> None:
    for number in numbers:
        async with http.get(f"{api.url}/get_text?number={number}") as response:
            assert response.status == 200


async def _seen(db: Database) -> dict[int, tuple[str | None, str | None]]:
    return {
        robot.stack_id: (robot.last_seen_at, robot.last_seen_address)
        for robot in await AssignmentRepository(db).overview()
    }


async def test_sightings_are_written_periodically(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(last_seen_flush_seconds=0.2), db=db))

    await _boot(http, api, 4, 5)
    for _ in range(1200):  # a ceiling for a hang (60 s): the first flush comes in 0.2 s
        seen = await _seen(db)
        if len(seen) == 2:
            break
        await asyncio.sleep(0.05)

    assert set(seen) == {4, 5}
    for seen_at, address in seen.values():
        assert address == "127.0.0.1"
        assert abs((datetime.now(UTC) - datetime.fromisoformat(seen_at)).total_seconds()) < 60
    assert not api.stopped  # written by the periodic task, not by shutting down


async def test_requests_do_not_write_to_the_database(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(last_seen_flush_seconds=3600), db=db))
    generation = db.write_generation

    await _boot(http, api, *([1, 2, 3] * 20))

    assert db.write_generation == generation  # no commit for 60 requests
    assert await _seen(db) == {}
    await api.stop()
    # Shutdown writes all of them in one transaction, one row per robot.
    assert db.write_generation == generation + 1
    assert set(await _seen(db)) == {1, 2, 3}


async def test_standalone_app_writes_sightings_when_it_stops(make_settings, db_path, serve, http):
    # No db= given: the app opens and closes the database file itself.
    api = await serve(create_app(make_settings(last_seen_flush_seconds=3600)))

    await _boot(http, api, 12)
    await api.stop()

    other = await Database.open(db_path)
    try:
        assert set(await _seen(other)) == {12}
    finally:
        await other.close()


async def test_a_later_boot_moves_last_seen_forward(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(last_seen_flush_seconds=3600), db=db))
    await _boot(http, api, 6)
    await api.stop()
    [(first, _)] = (await _seen(db)).values()

    await asyncio.sleep(1.05)  # last-seen has one-second resolution
    api = await serve(create_app(make_settings(last_seen_flush_seconds=3600), db=db))
    await _boot(http, api, 6)
    await api.stop()

    [(second, _)] = (await _seen(db)).values()
    assert datetime.fromisoformat(second) > datetime.fromisoformat(first)


async def test_made_up_ids_cannot_grow_the_table_or_the_stacks_list(
    make_settings, db, repo, serve, http
):
    for number in (2, 3):
        await repo.assign(number, f"ft:gpt-4o-mini:acme:s{number}:A{number}", **STAFF)
    settings = make_settings(last_seen_max_unassigned=5, last_seen_flush_seconds=3600)
    api = await serve(create_app(settings, db=db))
    await _boot(http, api, 2, 3, *range(100, 160), 3)  # 60 ids nobody assigned
    await api.stop()  # writes the sightings

    api = await serve(create_app(settings, db=db))
    async with http.get(f"{api.url}/api/v1/stacks") as response:
        stacks = (await response.json())["stacks"]

    seen = {stack["stack_id"]: stack["assigned"] for stack in stacks if stack["last_seen_at"]}
    assert seen == {2: True, 3: True, 155: False, 156: False, 157: False, 158: False, 159: False}
    assert len(stacks) == 7
