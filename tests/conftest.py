"""Shared fixtures: a fake Discord with a workshop guild, and the whole kobo process against it."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from pydantic import SecretStr

from bot.app import KoboApp
from config import Settings
from storage.database import Database
from tests.built_once import built_once
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeGuild, FakeMember
from tests.fakes.openai import FakeOpenAI
from tests.openapi.plugin import pytest_runtest_call  # noqa: F401  (a hook: fails schema breaks)

# Trainings at the default TRAINER_NICENESS (19) starve behind every other test process of a
# shared machine; tests/trainer/test_priority.py sets and checks the niceness itself.
os.environ.setdefault("TRAINER_NICENESS", "0")


# Tiny models gain nothing from several torch threads, and on a busy machine (or beside the other
# pytest-xdist worker) those threads mostly wait on each other: a tiny BERT's predictions took
# 50-68 s with 2 threads and 1.8-2.0 s with 1 on a loaded 2-core machine. Child processes (the
# CLI) inherit the setting; the trainer's worker still sets its own thread count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@dataclass
class Workshop:
    guild: FakeGuild
    channel: FakeChannel
    staff: FakeMember  # has the "Staff" role (kobo's STAFF_ROLE), no special permission
    admin: FakeMember  # no staff role, but Manage Server
    child: FakeMember  # no roles at all


def show_every_command_to_everyone(fake: FakeDiscord, workshop: Workshop) -> None:
    """The server lets @everyone see kobo's staff commands (Integrations): only kobo's own
    staff check is left between a child and a staff command."""
    fake.allow_command_for_role(workshop.guild, workshop.guild.everyone_role)


# Discord's locale values for the languages kobo speaks.
DISCORD_LOCALES = {"ja": "ja", "en": "en-US"}


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def following(settings: Settings, fake_openai: FakeOpenAI, **more: object) -> Settings:
    """``settings`` pointed at the fake OpenAI, polling jobs every 0.2 s with every progress."""
    return settings.model_copy(
        update={
            "openai_api_key": SecretStr(fake_openai.api_key),
            "openai_base_url": fake_openai.base_url,
            "openai_max_retries": 2,
            "openai_timeout_seconds": 60,  # a ceiling for a hang; the fake answers at once
            "finetune_poll_seconds": 0.2,
            "finetune_progress_seconds": 0,
            **more,
        }
    )


@pytest.fixture(scope="session")
def local_fine_tunes(tmp_path_factory: pytest.TempPathFactory):
    """Two tiny LoRA fine-tunes in the trainer's layout, already exported to GGUF (the export
    takes a few converter runs: once per test run, for all xdist workers). ``.install(data_dir)``
    copies them."""
    from tests.gateway.tiny_models import prepare_local_fine_tunes

    return built_once(tmp_path_factory, "local-fine-tunes", prepare_local_fine_tunes)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "kobo.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    """A real, migrated database file, closed after the test."""
    database = await Database.open(db_path)
    yield database
    await database.close()


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def workshop(fake_discord: FakeDiscord) -> Workshop:
    guild = fake_discord.add_guild("Workshop")
    channel = fake_discord.add_text_channel(guild, "robots")
    staff_role = fake_discord.add_role(guild, "Staff")
    manager_role = fake_discord.add_role(guild, "Organisers", manage_guild=True)
    # What the README asks of the server: Integrations → kobo lets the staff role see commands.
    fake_discord.allow_command_for_role(guild, staff_role)
    return Workshop(
        guild=guild,
        channel=channel,
        staff=fake_discord.add_member(guild, "alice", roles=[staff_role]),
        admin=fake_discord.add_member(guild, "olivia", roles=[manager_role]),
        child=fake_discord.add_member(guild, "bob"),
    )


@pytest.fixture
def kobo_settings(tmp_path: Path, fake_discord: FakeDiscord, workshop: Workshop) -> Settings:
    return Settings(
        _env_file=None,
        discord_token=fake_discord.bot_token,
        guild_id=workshop.guild.id,
        staff_role="Staff",
        database_path=tmp_path / "data" / "kobo.sqlite3",
        data_dir=tmp_path / "data",
        device_api_host="127.0.0.1",
        device_api_port=0,
        default_model="gpt-4o-mini",
        openai_api_key=None,
        # Local training is on by default: its trainer listens on a free port, so tests that
        # run at the same time (and a kobo running on this machine) do not clash on 8100.
        trainer_port=0,
    )


@pytest.fixture
async def kobo(fake_discord: FakeDiscord, kobo_settings: Settings) -> AsyncIterator[KoboApp]:
    """The real kobo process (bot, device API, scheduler) logged in to the fake Discord."""
    with fake_discord.patched_discord():
        app = KoboApp(kobo_settings, guild_ready_timeout=0.05)
        try:
            await app.start()
            await app.wait_until_ready()
            yield app
        finally:
            await app.stop()
    assert not fake_discord.unhandled_requests, fake_discord.unhandled_requests


@pytest.fixture(autouse=True)
def no_kobo_left_running() -> object:
    """A test that failed while its kobo process ran (``tests/bot/kobo_process.py``) leaves
    none behind: it would go on retrying a fake Discord that is gone."""
    yield
    from tests.bot.kobo_process import STARTED

    while STARTED:
        process = STARTED.pop()
        if process.returncode is None:  # by the pid: the test's event loop is closed by now
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> object:
    """discord.py and our handlers log (not raise) exceptions; any ERROR fails the test.

    A test that expects an error log clears it with ``caplog.clear()`` after asserting on it.
    """
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
