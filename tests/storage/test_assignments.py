"""Assignments, their append-only history, the overview, and reads racing writes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from config.settings import DeviceApiSettings
from device_api.app import create_app
from device_api.server import bound_addresses, start_device_api, stop_device_api
from storage.assignments import AssignmentChange, AssignmentRepository
from storage.database import Database
from storage.last_seen import LastSeenRecorder

AIKO = {"by_id": "1001", "by_name": "Aiko"}
KENJI = {"by_id": "1002", "by_name": "Kenji"}
DEFAULT_MODEL = "gpt-4o-mini"


@pytest.fixture
def repo(db: Database) -> AssignmentRepository:
    return AssignmentRepository(db)


async def test_assign_reassign_and_unassign_write_history(repo: AssignmentRepository):
    assert await repo.assign(4, "ft:a:1", **AIKO) == AssignmentChange(4, None, "ft:a:1")
    same = await repo.assign(4, "ft:a:1", **KENJI)
    assert same == AssignmentChange(4, "ft:a:1", "ft:a:1")
    assert not same.changed
    assert (await repo.assign(4, "ft:a:2", **KENJI)).changed
    assert await repo.unassign(4, **AIKO) == AssignmentChange(4, "ft:a:2", None)
    assert await repo.unassign(4, **AIKO) == AssignmentChange(4, None, None)

    history = await repo.history(4)
    assert [(h.old_model, h.new_model, h.changed_by_name) for h in history] == [
        (None, "ft:a:1", "Aiko"),
        ("ft:a:1", "ft:a:2", "Kenji"),
        ("ft:a:2", None, "Aiko"),
    ]
    assert [h.changed_by for h in history] == ["1001", "1002", "1001"]
    assert await repo.get(4) is None


async def test_get_and_all_show_who_assigned_what(repo):
    await repo.assign(2, "ft:b:2", **KENJI)
    await repo.assign(1, "ft:b:1", **AIKO)

    one = await repo.get(1)
    assert (one.stack_id, one.model, one.assigned_by, one.assigned_by_name) == (
        1,
        "ft:b:1",
        "1001",
        "Aiko",
    )
    assert one.assigned_at.endswith("+00:00")  # UTC
    assert [(a.stack_id, a.model) for a in await repo.all()] == [(1, "ft:b:1"), (2, "ft:b:2")]
    assert await repo.get(3) is None


async def test_history_is_filtered_by_robot_and_kept_in_order(repo):
    await repo.assign(1, "ft:c:1", **AIKO)
    await repo.assign(2, "ft:c:2", **AIKO)
    await repo.assign(1, "ft:c:3", **AIKO)

    assert [h.new_model for h in await repo.history(1)] == ["ft:c:1", "ft:c:3"]
    assert [(h.stack_id, h.new_model) for h in await repo.history()] == [
        (1, "ft:c:1"),
        (2, "ft:c:2"),
        (1, "ft:c:3"),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE assignment_history SET new_model = 'ft:forged'",
        "DELETE FROM assignment_history",
    ],
)
async def test_history_is_append_only(db, repo, statement):
    await repo.assign(1, "ft:d:1", **AIKO)

    with pytest.raises(sqlite3.IntegrityError, match="assignment_history is append-only"):
        async with db.transaction() as conn:
            await conn.execute(statement)

    assert [h.new_model for h in await repo.history()] == ["ft:d:1"]


async def test_stack_id_must_be_positive_and_nothing_is_half_written(repo):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        await repo.assign(0, "ft:e:0", **AIKO)

    assert await repo.all() == []
    assert await repo.history() == []


async def test_overview_joins_assigned_and_seen_robots(db, repo):
    await repo.assign(1, "ft:f:1", **AIKO)
    await repo.assign(3, "ft:f:3", **AIKO)
    recorder = LastSeenRecorder(db)
    recorder.record(3, "10.0.0.3")
    recorder.record(5, "10.0.0.5")
    assert await recorder.flush() == 2

    overview = await repo.overview()

    assert [robot.stack_id for robot in overview] == [1, 3, 5]
    one, three, five = overview
    assert one.assignment.model == "ft:f:1" and one.last_seen_at is None
    assert three.assignment.model == "ft:f:3" and three.last_seen_address == "10.0.0.3"
    assert five.assignment is None and five.last_seen_address == "10.0.0.5"


async def test_assigned_models_lists_each_model_once(repo):
    await repo.assign(1, "ft:g:shared", **AIKO)
    await repo.assign(2, "ft:g:shared", **AIKO)
    await repo.assign(3, "ft:g:own", **AIKO)

    assert sorted(await repo.assigned_models()) == ["ft:g:own", "ft:g:shared"]


# Reads racing writes, through the real device API.


def _settings(db_path: Path, **overrides) -> DeviceApiSettings:
    values = {
        "database_path": db_path,
        "default_model": DEFAULT_MODEL,
        "device_api_host": "127.0.0.1",
        "device_api_port": 0,
        "device_api_token": None,
        "last_seen_flush_seconds": 0.05,  # the flush writes often, racing the assignments
    }
    values.update(overrides)
    return DeviceApiSettings(_env_file=None, **values)


async def _robot_loop(session, url: str, robot: int, seen: list[str], done: asyncio.Event):
    """Boot ``robot`` over and over like a flaky classroom; collect every model it got."""
    while not done.is_set():
        async with session.get(f"{url}/get_text?number={robot}") as response:
            assert response.status == 200, await response.text()
            body = await response.read()
        assert body.startswith(b'{"message":"') and body.endswith(b'"}'), body
        seen.append(body[12:-2].decode())


def _assert_old_or_new(seen: list[str], versions: list[str]) -> None:
    """Each answer is a model that was assigned, and a robot never goes back to an older one."""
    order = {model: index for index, model in enumerate(versions)}
    indexes = [order[model] for model in seen]  # KeyError: a model nobody assigned
    assert indexes == sorted(indexes), seen


async def test_concurrent_reads_while_assigning_see_old_or_new(db, db_path, repo):
    runner = await start_device_api(create_app(_settings(db_path), db=db), "127.0.0.1", 0)
    host, port = bound_addresses(runner)[0]
    url = f"http://{host}:{port}"
    robots = [1, 2, 3, 4]
    versions = {r: [DEFAULT_MODEL] + [f"ft:race:{r}:v{i}" for i in range(25)] for r in robots}
    seen: dict[int, list[list[str]]] = {r: [[] for _ in range(6)] for r in robots}
    done = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as session:
            readers = [
                asyncio.create_task(_robot_loop(session, url, r, log, done))
                for r in robots
                for log in seen[r]
            ]
            for i in range(25):
                for r in robots:
                    await repo.assign(r, versions[r][i + 1], **AIKO)
                await asyncio.sleep(0.005)
            done.set()
            await asyncio.gather(*readers)
            for r in robots:  # after the last write, everyone gets the last model
                async with session.get(f"{url}/get_text?number={r}") as response:
                    assert (await response.read()) == f'{{"message":"{versions[r][-1]}"}}'.encode()
    finally:
        done.set()
        await stop_device_api(runner)

    total = sum(len(log) for r in robots for log in seen[r])
    assert total > 100  # the reads really did race the writes
    for r in robots:
        for log in seen[r]:
            _assert_old_or_new(log, versions[r])
    assert len(await repo.history()) == 25 * len(robots)
    assert {robot.stack_id for robot in await repo.overview() if robot.last_seen_at} == set(robots)


async def test_second_database_instance_writes_while_the_first_reads_and_flushes(db, db_path, repo):
    # The API runs on ``db`` (reading, and flushing last-seen every 50 ms); the "bot" writes
    # through its own Database on the same file, as it would from another process.
    runner = await start_device_api(create_app(_settings(db_path), db=db), "127.0.0.1", 0)
    host, port = bound_addresses(runner)[0]
    url = f"http://{host}:{port}"
    bot_db = await Database.open(db_path)
    bot = AssignmentRepository(bot_db)
    versions = [DEFAULT_MODEL] + [f"ft:other:v{i}" for i in range(30)]
    logs: list[list[str]] = [[] for _ in range(4)]
    done = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as session:
            readers = [asyncio.create_task(_robot_loop(session, url, 9, log, done)) for log in logs]

            async def direct_reads() -> int:
                count = 0
                while not done.is_set():
                    assignment = await repo.get(9)
                    assert assignment is None or assignment.model in versions
                    count += 1
                    await asyncio.sleep(0)
                return count

            reads = asyncio.create_task(direct_reads())
            for model in versions[1:]:
                await bot.assign(9, model, **KENJI)
                await asyncio.sleep(0.01)
            # Other-process writes are seen at the next 1 s check (30 s: a ceiling for a hang).
            deadline = asyncio.get_running_loop().time() + 30
            while not any(log and log[-1] == versions[-1] for log in logs):
                assert asyncio.get_running_loop().time() < deadline, [log[-1:] for log in logs]
                await asyncio.sleep(0.05)
            done.set()
            await asyncio.gather(*readers)
            assert await reads > 0
    finally:
        done.set()
        await stop_device_api(runner)
        await bot_db.close()

    for log in logs:
        _assert_old_or_new(log, versions)
    assert [h.new_model for h in await repo.history(9)] == versions[1:]
    [robot] = await repo.overview()
    assert robot.last_seen_at is not None
