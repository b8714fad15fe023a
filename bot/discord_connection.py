"""The bot's connection to Discord, kept apart so that the rest of kobo never waits for it.

Robots must keep getting their models while Discord (or the internet) is down, so the device API
does not wait for the login: the connection runs in its own task, retrying the login with capped
exponential backoff while Discord cannot be reached. Only a rejected token ends it for good.
Once logged in, discord.py's ``connect`` reconnects the gateway by itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
import discord

from bot.client import KoboBot

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0

# What a login attempt raises when Discord cannot be reached (or is having an outage), as
# opposed to refusing us: worth another try later.
UNREACHABLE = (OSError, aiohttp.ClientError, discord.DiscordServerError)


def retry_delays() -> Iterator[float]:
    """1, 2, 4, ... seconds, then every MAX_RETRY_SECONDS."""
    delay = FIRST_RETRY_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, MAX_RETRY_SECONDS)


def describe_unreachable(exc: BaseException) -> str:
    """Why Discord could not be reached, in a few words for the log."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup of {exc.host} failed: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        # asyncio's strerror is "Connect call failed (...)"; the errno says why.
        reason = os.strerror(error.errno) if error.errno else (error.strerror or error)
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    if isinstance(exc, discord.DiscordServerError):
        return f"Discord answered HTTP {exc.status}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


class DiscordConnection:
    """Logs a fresh bot in until it works, then runs its gateway connection.

    Each attempt uses a new bot from ``make_bot``: a failed ``login`` leaves a bot half set up
    (an HTTP session, perhaps loaded extensions) that discord.py cannot log in again.
    """

    def __init__(self, make_bot: Callable[[], KoboBot], token: str):
        self._make_bot = make_bot
        self._token = token
        self.bot: KoboBot | None = None  # set once logged in
        self._task: asyncio.Task[None] | None = None
        self._logged_in = asyncio.Event()
        self._discarding: set[asyncio.Future[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="discord-connection")

    @property
    def task(self) -> asyncio.Task[None]:
        """Ends only when the connection does: closed, or a fatal error (its exception)."""
        assert self._task is not None, "start() first"
        return self._task

    async def _run(self) -> None:
        bot = await self._log_in()
        await bot.connect()

    async def _log_in(self) -> KoboBot:
        for delay in retry_delays():
            bot = self._make_bot()
            try:
                await bot.login(self._token)
            except UNREACHABLE as exc:
                cause = describe_unreachable(exc)
            except BaseException:  # a rejected token, a bug, or close() cancelling us
                await self._discard(bot)
                raise
            else:
                self.bot = bot
                self._logged_in.set()
                return bot
            await self._discard(bot)
            log.warning("cannot reach Discord (%s): retrying in %g s", cause, delay)
            await asyncio.sleep(delay)
        raise AssertionError("retry_delays() never ends")

    async def _discard(self, bot: KoboBot) -> None:
        """Close a bot whose login failed, to the end even if this task is cancelled meanwhile."""
        closing = asyncio.ensure_future(bot.close())
        self._discarding.add(closing)
        closing.add_done_callback(self._discarding.discard)
        await asyncio.shield(closing)

    async def wait_until_ready(self) -> None:
        """Return once the bot is connected and ready; raise what ended the connection first."""
        await self._unless_ended(self._logged_in.wait())
        assert self.bot is not None
        await self._unless_ended(self.bot.wait_until_ready())

    async def _unless_ended(self, awaitable: Awaitable[object]) -> None:
        waiter = asyncio.ensure_future(awaitable)
        await asyncio.wait({waiter, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            waiter.cancel()
            self.task.result()  # raises the error that ended the connection
            raise RuntimeError("the Discord connection ended before the bot was ready")

    async def close(self) -> None:
        """Log out, or stop trying to log in; safe to call twice."""
        if self._task is None:
            return
        if self.bot is None:
            # Still trying to log in: nothing to say goodbye to, stop the attempt at once.
            self._task.cancel()
        elif not self.bot.is_closed():
            await self.bot.close()  # makes connect() return
        # The task's error, if any, is for whoever awaits ``task`` to report.
        await asyncio.wait({self._task})
        await asyncio.gather(*self._discarding, return_exceptions=True)
