"""``python -m bot`` as a real process: it serves, and SIGINT/SIGTERM stop it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.discord import FakeDiscord

# Runs the real entry point with discord.py pointed at the fake (the only outside-world part).
LAUNCHER = """
import sys, yarl, discord.http, discord.gateway
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.cli import main
raise SystemExit(main([]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_kobo(fake: FakeDiscord, tmp_path: Path, **env: str):
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "OPENAI_"))},
        "PYTHONPATH": str(Path.cwd()),
        "DISCORD_TOKEN": fake.bot_token,
        "DATABASE_PATH": str(tmp_path / "kobo.sqlite3"),
        "DATA_DIR": str(tmp_path),
        "DEVICE_API_HOST": "127.0.0.1",
        "DEVICE_API_PORT": str(port),
        "PYTHONWARNINGS": "always",
        "PYTHONASYNCIODEBUG": "0",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "dev",
        "-c",
        LAUNCHER,
        fake.api_base,
        fake.gateway_url,
        env=environment,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return process, port


async def wait_until_serving(process, port: int, fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                break
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200 and fake.synced_commands():
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    _, err = await process.communicate()
    raise AssertionError(f"kobo did not start: {err.decode()}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_everything_cleanly(tmp_path, signum):
    async with FakeDiscord() as fake:
        process, port = await start_kobo(fake, tmp_path)
        await wait_until_serving(process, port, fake)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/get_text?number=3") as response:
                assert await response.read() == b'{"message":"gpt-4o-mini"}'
        process.send_signal(signum)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 0, log
    for bad in ("Traceback", "Unclosed", "Task was destroyed", "never awaited"):
        assert bad not in log, log
    assert fake.bot_token not in log
    assert "shutting down" in log
    # The robot's request was flushed to the database at shutdown.
    import sqlite3

    with sqlite3.connect(tmp_path / "kobo.sqlite3") as conn:
        assert conn.execute("SELECT stack_id FROM robot_last_seen").fetchall() == [(3,)]


async def test_a_rejected_token_ends_with_one_clear_line(tmp_path):
    async with FakeDiscord() as fake:
        process, _ = await start_kobo(fake, tmp_path, DISCORD_TOKEN="not-the-token")
        _, err = await asyncio.wait_for(process.communicate(), 30)
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
            _, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 2, log
    assert "DEVICE_API_PORT" in log and "Traceback" not in log
