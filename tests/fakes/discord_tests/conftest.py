"""Fixtures: a running fake Discord with one workshop guild, and the demo bot logged in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.fakes.discord import FakeChannel, FakeDiscord, FakeGuild, FakeMember, run_client
from tests.fakes.discord_tests.demo_bot import DemoBot


@dataclass
class Workshop:
    guild: FakeGuild
    robots: FakeChannel
    staff: FakeMember  # has the Staff role, which grants Manage Server
    child: FakeMember  # no roles at all


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def workshop(fake: FakeDiscord) -> Workshop:
    guild = fake.add_guild("Workshop")
    robots = fake.add_text_channel(guild, "robots")
    staff_role = fake.add_role(guild, "Staff", manage_guild=True)
    staff = fake.add_member(guild, "alice", roles=[staff_role])
    child = fake.add_member(guild, "bob")
    return Workshop(guild=guild, robots=robots, staff=staff, child=child)


@pytest.fixture
async def bot(fake: FakeDiscord, workshop: Workshop) -> AsyncIterator[DemoBot]:
    async with run_client(fake, DemoBot(workshop.guild.id)) as client:
        yield client


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> object:
    """discord.py logs (not raises) exceptions in handlers; treat any as a failure."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
