"""The kobo process: the Discord bot, the device API and the scheduler in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import discord
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.client import KoboBot
from bot.services import Services
from config import Settings
from device_api.app import create_app
from device_api.server import start_device_api, stop_device_api
from finetune.models import ModelTableError
from storage.database import Database, DatabaseError

log = logging.getLogger(__name__)


class KoboApp:
    """Starts and stops every part in order; usable as ``async with KoboApp(settings) as app``."""

    def __init__(self, settings: Settings, **bot_options):
        self.settings = settings
        self._bot_options = bot_options
        self.db: Database | None = None
        self.services: Services | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.bot: KoboBot | None = None
        self._api_runner: web.AppRunner | None = None
        self._bot_task: asyncio.Task | None = None

    @property
    def device_api_port(self) -> int:
        """The port the device API listens on (useful when configured as 0)."""
        assert self._api_runner is not None
        return self._api_runner.addresses[0][1]

    async def start(self) -> None:
        try:
            self.db = await Database.open(self.settings.database_path)
            self.services = Services.build(self.settings, self.db)
            await self.services.datasets.remove_orphans()  # before /augment can write any
            self.scheduler = AsyncIOScheduler()
            self.scheduler.start()
            api = create_app(self.settings, db=self.db, recorder=self.services.last_seen)
            self._api_runner = await start_device_api(
                api, self.settings.device_api_host, self.settings.device_api_port
            )
            self.bot = KoboBot(self.settings, self.services, self.scheduler, **self._bot_options)
            await self.bot.login(self.settings.discord_token.get_secret_value())
            self._bot_task = asyncio.create_task(self.bot.connect(), name="discord-gateway")
        except BaseException:
            await self.stop()
            raise

    async def wait_until_ready(self) -> None:
        assert self.bot is not None and self._bot_task is not None
        ready = asyncio.create_task(self.bot.wait_until_ready())
        await asyncio.wait({ready, self._bot_task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            self._bot_task.result()  # the gateway task ended first: raise its error

    async def run_until_stopped(self, stop: asyncio.Event) -> None:
        assert self._bot_task is not None
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({stopper, self._bot_task}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if self._bot_task.done() and not self._bot_task.cancelled():
            self._bot_task.result()

    async def stop(self) -> None:
        """Close everything that was started, in reverse order; safe to call twice."""
        if self.bot is not None and not self.bot.is_closed():
            await self.bot.close()
        if self._bot_task is not None:
            with contextlib.suppress(asyncio.CancelledError, discord.DiscordException, OSError):
                await self._bot_task
            self._bot_task = None
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._api_runner is not None:
            await stop_device_api(self._api_runner)  # also flushes last-seen
            self._api_runner = None
        if self.services is not None:
            await self.services.finetune.close()
        if self.db is not None:
            await self.db.close()
            self.db = None

    async def __aenter__(self) -> KoboApp:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()


async def serve(settings: Settings) -> int:
    """``python -m bot``: run until SIGINT/SIGTERM; returns the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = KoboApp(settings)
    try:
        await app.start()
        log.info("device API on http://%s:%d", settings.device_api_host, app.device_api_port)
        await app.run_until_stopped(stop)
    except discord.LoginFailure:
        log.error("DISCORD_TOKEN was rejected by Discord: check the bot token")
        return 2
    except ModelTableError as exc:
        log.error("FINETUNE_MODELS: %s", exc)
        return 2
    except DatabaseError as exc:
        log.error("DATABASE_PATH: %s", exc)
        return 2
    except OSError as exc:
        log.error(
            "the device API cannot listen on %s:%s (DEVICE_API_HOST/DEVICE_API_PORT): %s",
            settings.device_api_host,
            settings.device_api_port,
            exc.strerror or exc,
        )
        return 2
    finally:
        log.info("shutting down")
        await app.stop()
    return 0
