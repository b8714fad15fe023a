"""``python -m bot`` as a real process: it serves, SIGINT/SIGTERM stop it cleanly, it starts
from the shipped .env.example, and it keeps serving the robots while Discord is unreachable."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.bot.kobo_process import (
    free_port,
    get_text,
    read_log_until,
    start_kobo,
    wait_until_serving,
)
from tests.ceilings import PROCESS_SECONDS
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.snowflakes import new_snowflake

ROOT = Path(__file__).resolve().parents[2]
CLEAN_EXIT_NEVER_SHOWS = ("Traceback", "Unclosed", "Task was destroyed", "never awaited")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_everything_cleanly(tmp_path, signum):
    async with FakeDiscord() as fake:
        process, port = await start_kobo(fake, tmp_path)
        await wait_until_serving(process, port, fake)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/get_text?number=3") as response:
                assert await response.read() == b'{"message":"gpt-4o-mini"}'
        process.send_signal(signum)
        _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = err.decode()
    assert process.returncode == 0, log
    for bad in CLEAN_EXIT_NEVER_SHOWS:
        assert bad not in log, log
    assert fake.bot_token not in log
    assert "shutting down" in log
    # The robot's request was flushed to the database at shutdown.
    with sqlite3.connect(tmp_path / "kobo.sqlite3") as conn:
        assert conn.execute("SELECT stack_id FROM robot_last_seen").fetchall() == [(3,)]


async def test_a_rejected_token_ends_with_one_clear_line(tmp_path):
    async with FakeDiscord() as fake:
        process, _ = await start_kobo(fake, tmp_path, DISCORD_TOKEN="not-the-token")
        _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = err.decode()
    assert process.returncode == 2, log
    assert "DISCORD_TOKEN was rejected by Discord" in log
    assert "Traceback" not in log and "not-the-token" not in log


async def test_an_unusable_port_is_named(tmp_path):
    async with FakeDiscord() as fake:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            process, _ = await start_kobo(fake, tmp_path, DEVICE_API_PORT=str(port))
            _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = err.decode()
    assert process.returncode == 2, log
    assert "DEVICE_API_PORT" in log and "Traceback" not in log


async def test_a_file_that_is_not_a_database_ends_at_once_with_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("shopping list: rice, miso, nori\n" * 50)
    async with FakeDiscord() as fake:
        process, _ = await start_kobo(fake, tmp_path, DATABASE_PATH=str(tmp_path / "notes.txt"))
        _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = err.decode()
    assert process.returncode == 2, log
    [error] = [line for line in log.splitlines() if " ERROR " in line]
    assert "DATABASE_PATH: cannot open database" in error and "notes.txt" in error
    assert "Traceback" not in log


async def test_starts_from_the_shipped_env_example_with_only_the_token_filled_in(tmp_path):
    # A newcomer's set-up: copy .env.example to .env and fill in the token; every setting the
    # file leaves blank (GUILD_ID=, OPENAI_API_KEY=, ...) means "unset".
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    async with FakeDiscord() as fake:
        env_text = (tmp_path / ".env").read_text(encoding="utf-8")
        env_text, filled = re.subn(
            r"^DISCORD_TOKEN=$", f"DISCORD_TOKEN={fake.bot_token}", env_text, flags=re.M
        )
        assert filled == 1
        (tmp_path / ".env").write_text(env_text, encoding="utf-8")
        # Only the listening address is moved off the shipped one (tests run side by side).
        process, port = await start_kobo(
            fake, tmp_path, DISCORD_TOKEN=None, DATABASE_PATH=None, DATA_DIR=None
        )
        await wait_until_serving(process, port, fake)
        assert await get_text(port, 3) == b'{"message":"gpt-4o-mini"}'
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = err.decode()
    assert process.returncode == 0, log
    assert (tmp_path / "data" / "kobo.sqlite3").is_file()  # DATABASE_PATH from the file


async def test_robots_keep_their_models_while_discord_cannot_be_reached(tmp_path):
    nothing_there = free_port()
    process, port = await start_kobo(nothing_there, tmp_path)
    lines: list[str] = []
    try:
        retry = await read_log_until(process, lines, lambda line: "cannot reach Discord" in line)
        assert f"127.0.0.1:{nothing_there}" in retry and "Connection refused" in retry, retry
        assert "retrying in" in retry
        assert await get_text(port, 3) == b'{"message":"gpt-4o-mini"}'
        await read_log_until(process, lines, lambda line: "cannot reach Discord" in line)
        assert await get_text(port, 3) == b'{"message":"gpt-4o-mini"}'  # still serving
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = "".join(lines) + err.decode()
    assert process.returncode == 0, log
    assert "device API cannot listen" not in log
    for bad in CLEAN_EXIT_NEVER_SHOWS:
        assert bad not in log, log


async def test_connects_once_discord_comes_back(tmp_path):
    discord_port = free_port()
    workshop_id = new_snowflake()
    process, port = await start_kobo(discord_port, tmp_path, GUILD_ID=str(workshop_id))
    lines: list[str] = []
    try:
        await read_log_until(process, lines, lambda line: "cannot reach Discord" in line)
        async with FakeDiscord(port=discord_port) as fake:
            guild = fake.add_guild("Workshop", guild_id=workshop_id)
            fake.add_text_channel(guild, "robots")
            child = fake.add_member(guild, "bob")
            await wait_until_serving(process, port, fake, guild)
            await read_log_until(process, lines, lambda line: "logged in to Discord as" in line)
            stacks = await (await fake.invoke("stacks", {}, user=child)).wait_response()
            assert stacks.embeds  # the bot answers commands
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = "".join(lines) + err.decode()
    assert process.returncode == 0, log
    for bad in CLEAN_EXIT_NEVER_SHOWS:
        assert bad not in log, log


async def test_without_a_discord_token_kobo_serves_the_robots_and_says_so(tmp_path):
    # The no-Discord path: .env.example ships DISCORD_TOKEN blank. Nothing may try to reach
    # Discord: the fake that would answer is never started.
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    process, port = await start_kobo(
        free_port(), tmp_path, DISCORD_TOKEN=None, LOCAL_TRAINING="false"
    )
    lines: list[str] = []
    await read_log_until(process, lines, lambda line: "device API on" in line)
    assert await get_text(port, 3) == b'{"message":"gpt-4o-mini"}'
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    log = "".join(lines) + err.decode()
    assert process.returncode == 0, log
    assert "DISCORD_TOKEN is not set: kobo runs without Discord" in log
    assert "cannot reach Discord" not in log
    for bad in CLEAN_EXIT_NEVER_SHOWS:
        assert bad not in log, log
