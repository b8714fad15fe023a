"""The kobo process: the Discord bot, the device API and the scheduler in one asyncio loop.

The device API comes up before the embedded trainer, and nothing about training stops it: a
trainer that cannot start is logged as an error and kobo goes on without local training (the
robots keep being answered; staff are told that the trainer does not answer when they train).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

import discord
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.client import KoboBot
from bot.discord_connection import DiscordConnection
from bot.services import Services
from config import Settings
from curation.imports import import_older_datasets
from device_api.app import create_app
from device_api.server import start_device_api, stop_device_api
from finetune.models import ModelTableError
from storage.database import Database, DatabaseError
from trainer.base_models import BaseModelTableError
from trainer.server import TrainerHandle, listening_problem, start_trainer

log = logging.getLogger(__name__)


class KoboApp:
    """Starts and stops every part in order; usable as ``async with KoboApp(settings) as app``."""

    def __init__(self, settings: Settings, **bot_options):
        self.settings = settings
        self._bot_options = bot_options
        self.db: Database | None = None
        self.services: Services | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self._api_runner: web.AppRunner | None = None
        self._discord: DiscordConnection | None = None
        self.trainer: TrainerHandle | None = None  # the embedded trainer, when there is one

    @property
    def device_api_port(self) -> int:
        """The port the device API listens on (useful when configured as 0)."""
        assert self._api_runner is not None
        return self._api_runner.addresses[0][1]

    @property
    def bot(self) -> KoboBot | None:
        """The bot once it has logged in to Discord."""
        return self._discord.bot if self._discord is not None else None

    async def start(self) -> None:
        """Start everything; Discord is connected in the background (see DiscordConnection)."""
        trainer_socket = None
        try:
            self.db = await Database.open(self.settings.database_path)
            trainer_socket, trainer_url = self._trainer_address()
            self.services = Services.build(self.settings, self.db, trainer_url)
            await self.services.datasets.remove_orphans()  # before /augment can write any
            await import_older_datasets(self.services.store)  # search and review see them all
            self.scheduler = AsyncIOScheduler()
            self.scheduler.start()
            api = create_app(
                self.settings,
                db=self.db,
                recorder=self.services.last_seen,
                gateway=self.services.gateway,
            )
            self._api_runner = await start_device_api(
                api, self.settings.device_api_host, self.settings.device_api_port
            )
            if trainer_socket is not None:
                await self._start_trainer(self.db, trainer_socket)
                trainer_socket = None
            self._connect_discord()
        except BaseException:
            if trainer_socket is not None:
                trainer_socket.close()
            await self.stop()
            raise

    def _trainer_address(self) -> tuple[socket.socket | None, str | None]:
        """Where kobo's trainer answers: TRAINER_URL, or the trainer to start here in this
        process (LOCAL_TRAINING without TRAINER_URL), whose socket is bound now so that its
        address is known; None when local training is off or cannot listen."""
        if self.settings.trainer_url is not None:
            return None, self.settings.trainer_url
        if not self.settings.local_training:
            return None, None
        if (problem := listening_problem(self.settings)) is not None:
            log.error("local training is off: %s", problem)
            return None, None
        host, port = self.settings.trainer_host, self.settings.trainer_port
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.create_server((host.strip("[]"), port), family=family)
        except OSError as exc:
            log.error(
                "local training is off: the trainer cannot listen on %s:%s"
                " (TRAINER_HOST/TRAINER_PORT): %s",
                host,
                port,
                exc.strerror or exc,
            )
            return None, None
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        return sock, f"http://{shown}:{bound_port}"

    async def _start_trainer(self, db: Database, sock: socket.socket) -> None:
        """Start the embedded trainer on ``sock``; when it cannot start, say why and go on
        without it: the robots' service must not depend on training."""
        try:
            self.trainer = await start_trainer(self.settings, db, sock=sock)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, BaseModelTableError):
                log.error("local training is off: LOCAL_BASE_MODELS: %s", exc)
            elif isinstance(exc, Exception):
                log.exception("local training is off: the trainer failed to start")
            else:
                raise

    def _connect_discord(self) -> None:
        token = self.settings.discord_token
        if token is None:
            log.warning(
                "DISCORD_TOKEN is not set: kobo runs without Discord. The robots, the trainer"
                " and the shell commands (python -m bot robots|train|try|datasets) work; staff's"
                " slash commands need a bot token (README, 'Without Discord')."
            )
            return
        self._discord = DiscordConnection(self._make_bot, token.get_secret_value())
        self._discord.start()

    def _make_bot(self) -> KoboBot:
        assert self.services is not None and self.scheduler is not None
        return KoboBot(self.settings, self.services, self.scheduler, **self._bot_options)

    async def wait_until_ready(self) -> None:
        assert self._discord is not None
        await self._discord.wait_until_ready()

    async def run_until_stopped(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; raises what ended the Discord connection (a rejected token)."""
        if self._discord is None:  # running without Discord
            await stop.wait()
            return
        connection = self._discord.task
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({stopper, connection}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if connection.done() and not connection.cancelled():
            connection.result()

    async def stop(self) -> None:
        """Close everything that was started, in reverse order; safe to call twice."""
        if self._discord is not None:
            await self._discord.close()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._api_runner is not None:
            await stop_device_api(self._api_runner)  # also flushes last-seen
            self._api_runner = None
        if self.services is not None:
            await self.services.gateway.close()  # stops the local engines
            await self.services.finetune.close()
        if self.trainer is not None:
            # Kills a running training: its job resumes from its last checkpoint at next start.
            await self.trainer.stop()
            self.trainer = None
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
    except OSError as exc:  # only listening raises it: Discord is reached in the background
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
