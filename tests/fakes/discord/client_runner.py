"""Run a real discord.py client against a ``FakeDiscord`` and shut it down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import discord

from tests.fakes.discord.server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.asynccontextmanager
async def run_client(
    fake: FakeDiscord,
    client: ClientT,
    *,
    token: str | None = None,
    ready_timeout: float = 60.0,  # a ceiling for a hang: on_ready normally fires at once
    strict: bool = True,
) -> AsyncIterator[ClientT]:
    """Start ``client.start(token)`` against ``fake``, wait for on_ready, close on exit.

    Construct the client with a small ``guild_ready_timeout`` (e.g. 0.05): discord.py waits
    that long after the last GUILD_CREATE before firing on_ready (default 2 s).
    With ``strict`` the block fails on exit if the client called REST endpoints the fake
    does not implement, so gaps in the fake cannot hide behind a swallowed exception.
    """
    with fake.patched_discord():
        runner = asyncio.create_task(
            client.start(token or fake.bot_token), name="fake-discord-client"
        )
        try:
            await _wait_ready(client, runner, ready_timeout, fake)
            yield client
        finally:
            await client.close()
            # start() returns once close() ends the gateway loop; never leave it pending.
            done, _ = await asyncio.wait({runner}, timeout=5.0)
            if not done:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            crash = None if runner.cancelled() else runner.exception()
    if crash is not None:
        raise AssertionError(f"the client's start() failed: {crash!r}") from crash
    if strict and fake.unhandled_requests:
        raise AssertionError(
            f"the client called endpoints the fake lacks: {fake.unhandled_requests}"
        )


async def _wait_ready(
    client: discord.Client,
    runner: asyncio.Task[None],
    timeout: float,  # noqa: ASYNC109 - a per-wait timeout reads best in tests
    fake: FakeDiscord,
) -> None:
    """Poll ``is_ready`` until on_ready fired, surfacing a start-up crash immediately."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not client.is_ready():
        if runner.done():
            runner.result()  # re-raises LoginFailure, HTTPException, ...
            raise AssertionError("client.start() returned before the client became ready")
        if loop.time() > deadline:
            raise TimeoutError(
                f"client not ready after {timeout}s; requests so far: {fake.requests}"
            )
        await asyncio.sleep(0.01)
