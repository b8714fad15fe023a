"""Run ``python -m bot`` as a real process, with discord.py pointed at a fake Discord."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.ceilings import PROCESS_SECONDS
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.models import FakeGuild
from tests.fakes.discord.rest import API_PREFIX

# Runs the real entry point with discord.py pointed at the fake (the only outside-world part).
LAUNCHER = """
import sys, yarl, discord.http, discord.gateway
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.cli import main
raise SystemExit(main([]))
"""


# Every kobo a test started; tests/conftest.py kills those still running when the test ends,
# so that a test that failed half-way leaves no kobo behind to load the machine.
STARTED: list[asyncio.subprocess.Process] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def discord_urls(port: int) -> tuple[str, str]:
    """The REST base and gateway URL of a FakeDiscord listening (or not yet) on ``port``."""
    return f"http://127.0.0.1:{port}{API_PREFIX}", f"ws://127.0.0.1:{port}/gateway"


async def start_kobo(
    discord: FakeDiscord | int, tmp_path: Path, **env: str | None
) -> tuple[asyncio.subprocess.Process, int]:
    """Start kobo in ``tmp_path`` against ``discord`` (a running fake, or a port for one that is
    not up); ``env`` overrides the test settings, ``None`` removes one. Returns the process and
    its device API port."""
    port = free_port()
    if isinstance(discord, FakeDiscord):
        api_base, gateway_url = discord.api_base, discord.gateway_url
        token = discord.bot_token
    else:
        (api_base, gateway_url), token = discord_urls(discord), FakeDiscord().bot_token
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "OPENAI_"))},
        "PYTHONPATH": str(Path.cwd()),
        "DISCORD_TOKEN": token,
        "DATABASE_PATH": str(tmp_path / "kobo.sqlite3"),
        "DATA_DIR": str(tmp_path),
        "DEVICE_API_HOST": "127.0.0.1",
        "DEVICE_API_PORT": str(port),
        # Its trainer on a free port too: kobos started by tests at the same time (pytest-xdist
        # workers, or a kobo running on this machine) would clash on the default 8100.
        "TRAINER_PORT": "0",
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
        api_base,
        gateway_url,
        env={k: v for k, v in environment.items() if v is not None},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    STARTED.append(process)
    return process, port


async def wait_until_serving(
    process, port: int, fake: FakeDiscord, guild: FakeGuild | None = None
) -> None:
    """Until the device API answers and the bot has synced its commands to ``fake`` (globally,
    or to ``guild`` when GUILD_ID names it) and connected to its gateway."""
    async with aiohttp.ClientSession() as http:
        for _ in range(PROCESS_SECONDS * 10):  # every 0.1 s
            if process.returncode is not None:
                break
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    connected = fake.synced_commands(guild) and fake.gateway.identified
                    if response.status == 200 and connected:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    if process.returncode is None:
        process.kill()
    _, err = await process.communicate()
    raise AssertionError(f"kobo did not start: {err.decode()}")


async def read_log_until(
    process: asyncio.subprocess.Process, lines: list[str], found: Callable[[str], bool]
) -> str:
    """Read stderr into ``lines`` until a line matches ``found``; returns that line."""
    while True:
        raw = await asyncio.wait_for(process.stderr.readline(), PROCESS_SECONDS)
        if not raw:
            raise AssertionError("kobo ended first:\n" + "".join(lines))
        lines.append(raw.decode())
        if found(lines[-1]):
            return lines[-1]


async def get_text(port: int, number: int) -> bytes:
    """What the robot ``number`` is told by the device API on ``port``."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/get_text?number={number}") as response:
            assert response.status == 200
            return await response.read()
