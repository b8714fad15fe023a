"""Writes made elsewhere reach the robots within the documented staleness bound."""

from __future__ import annotations

import asyncio
import time

from device_api.app import create_app
from device_api.directory import EXTERNAL_WRITE_CHECK_SECONDS
from storage.assignments import AssignmentRepository
from storage.database import Database
from tests.device_api.conftest import DEFAULT_MODEL, STAFF
from tests.device_api.firmware import firmware_model_name

NEW_MODEL = "ft:gpt-4o-mini:acme:elsewhere:E1"
# The documented bound is EXTERNAL_WRITE_CHECK_SECONDS plus one reload (well under 2 s). Ten
# checks' worth is allowed for a busy machine: still far from "never" or "once a minute".
BOUND = 10 * EXTERNAL_WRITE_CHECK_SECONDS


async def _poll_until(http, url: str, wanted: str) -> tuple[float, list[str]]:
    """Ask like a booting robot every 20 ms; return when ``wanted`` came and all answers."""
    start = time.monotonic()
    answers = []
    while time.monotonic() - start < BOUND:
        async with http.get(url) as response:
            assert response.status == 200
            answers.append(firmware_model_name(await response.read()))
        if answers[-1] == wanted:
            return time.monotonic() - start, answers
        await asyncio.sleep(0.02)
    raise AssertionError(f"{wanted} never served; last answers {answers[-3:]}")


async def test_write_by_another_database_instance_is_served_within_the_bound(
    make_settings, db, db_path, serve, http
):
    # Default check interval: this is the staleness the docs promise.
    api = await serve(create_app(make_settings(), db=db))
    url = f"{api.url}/get_text?number=21"
    async with http.get(url) as response:
        assert firmware_model_name(await response.read()) == DEFAULT_MODEL

    other = await Database.open(db_path)  # as the bot would, in its own process
    try:
        await AssignmentRepository(other).assign(21, NEW_MODEL, **STAFF)
        elapsed, answers = await _poll_until(http, url, NEW_MODEL)
    finally:
        await other.close()

    assert elapsed < BOUND
    assert set(answers) <= {DEFAULT_MODEL, NEW_MODEL}
    assert answers.index(NEW_MODEL) == len(answers) - 1


async def test_standalone_app_sees_writes_by_another_database_instance(
    make_settings, db, serve, http
):
    api = await serve(create_app(make_settings()))  # opens its own connections
    url = f"{api.url}/get_text?number=22"

    await AssignmentRepository(db).assign(22, NEW_MODEL, **STAFF)
    elapsed, _ = await _poll_until(http, url, NEW_MODEL)
    assert elapsed < BOUND
    await AssignmentRepository(db).unassign(22, **STAFF)
    elapsed, _ = await _poll_until(http, url, DEFAULT_MODEL)
    assert elapsed < BOUND
