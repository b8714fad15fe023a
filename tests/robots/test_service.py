from __future__ import annotations

import pytest

from robots.model_ids import InvalidModelId, validate_model_id
from robots.service import RobotService
from robots.stack_ids import InvalidStackId
from storage.assignments import AssignmentRepository
from storage.database import Database
from storage.last_seen import LastSeenRecorder


@pytest.fixture
async def service(tmp_path):
    db = await Database.open(tmp_path / "kobo.sqlite3")

    async def fine_tunes():
        return ["ft:gpt-4o-mini-2024-07-18:acme:kobo:AbC123"]

    yield RobotService(AssignmentRepository(db), LastSeenRecorder(db), "gpt-4o-mini", fine_tunes)
    await db.close()


@pytest.mark.parametrize(
    "name",
    ["gpt-4o-mini", "ft:gpt-4o-mini-2024-07-18:acme:stack4:AbC123", "gpt-4.1-nano", "o3_mini"],
)
def test_openai_style_model_ids_are_accepted(name):
    assert validate_model_id(f"  {name} ") == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ('gpt"4', "'\"'"),
        ("gpt\\4", "'\\\\'"),
        ("gpt 4", "' '"),
        ("ロボット", "'ロ'"),
        ("-gpt", "start with a letter or a digit"),
        ("a" * 129, "129 characters"),
    ],
)
def test_bad_model_ids_say_what_is_wrong(name, reason):
    with pytest.raises(InvalidModelId) as info:
        validate_model_id(name)
    assert reason in str(info.value)


async def test_assign_validates_before_writing(service):
    with pytest.raises(InvalidStackId):
        await service.assign(0, "gpt-4o", by_id="1", by_name="a")
    with pytest.raises(InvalidModelId):
        await service.assign(3, 'bad"name', by_id="1", by_name="a")
    assert await service.overview() == []


async def test_known_models_lists_fine_tunes_assigned_and_default_filtered(service):
    await service.assign(1, "gpt-4.1-mini", by_id="1", by_name="a")
    assert await service.known_models() == [
        "ft:gpt-4o-mini-2024-07-18:acme:kobo:AbC123",
        "gpt-4.1-mini",
        "gpt-4o-mini",
    ]
    assert await service.known_models("MINI-2024") == ["ft:gpt-4o-mini-2024-07-18:acme:kobo:AbC123"]
    assert await service.known_models("4.1") == ["gpt-4.1-mini"]


async def test_overview_includes_robots_seen_a_moment_ago(service):
    await service.assign(2, "gpt-4.1-mini", by_id="1", by_name="alice")
    service._last_seen.record(7, "10.0.0.7")
    robots = {r.stack_id: r for r in await service.overview()}
    assert robots[2].assignment.model == "gpt-4.1-mini" and robots[2].last_seen_at is None
    assert robots[7].assignment is None and robots[7].last_seen_address == "10.0.0.7"
