"""Start and stop the trainer (its job runner and its HTTP API on TRAINER_HOST:TRAINER_PORT).

``python -m trainer`` uses it with a database of its own; the bot calls :func:`start_trainer`
with its open database to embed the trainer in its process, and :meth:`TrainerHandle.stop`
before closing that database. Stopping kills a running training; its job resumes at the next
start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass

from aiohttp import web

from config.settings import TrainerSettings
from http_common.protocol import JsonErrorsAppRunner
from storage.database import Database
from trainer.app import create_app
from trainer.base_models import load_base_models
from trainer.http_errors import TrainerRequestHandler
from trainer.runner import POLL_SECONDS, JobRunner

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_SECONDS = 5.0


class TrainerConfigError(ValueError):
    """The settings do not allow starting the trainer; the message names the setting."""


@dataclass
class TrainerHandle:
    runner: JobRunner
    app_runner: web.AppRunner

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.app_runner.addresses[0][:2]
        return host, port

    @property
    def url(self) -> str:
        """The API's base URL (``.../v1`` is where the ``openai`` SDK's base_url points)."""
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    async def stop(self) -> None:
        """Stop answering, then kill the running training (it resumes at the next start)."""
        await self.app_runner.cleanup()
        await self.runner.stop()


def listening_problem(settings: TrainerSettings) -> str | None:
    """Why the trainer must not listen as configured, or None. Anywhere but loopback, robots
    and children on the workshop's Wi-Fi could reach it: a token is required there."""
    if settings.trainer_token is None and not is_loopback(settings.trainer_host):
        return (
            f"TRAINER_HOST={settings.trainer_host} can be reached from other machines: set"
            " TRAINER_TOKEN (or listen on 127.0.0.1)"
        )
    return None


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


async def start_trainer(
    settings: TrainerSettings,
    db: Database,
    *,
    poll_seconds: float = POLL_SECONDS,
    sock: socket.socket | None = None,
) -> TrainerHandle:
    """Resume what the last run left, then serve. Raises :class:`TrainerConfigError`,
    ``trainer.base_models.BaseModelTableError`` (LOCAL_BASE_MODELS) or OSError (the port).
    ``sock``: a listening socket to serve on instead of TRAINER_HOST:TRAINER_PORT (the bot binds
    it first, so that its address is known before the trainer starts)."""
    if (problem := listening_problem(settings)) is not None:
        raise TrainerConfigError(problem)
    base_models = await asyncio.to_thread(
        load_base_models, settings.local_base_models, data_dir=settings.data_dir
    )
    runner = JobRunner(db, settings, base_models, poll_seconds=poll_seconds)
    await runner.start()
    app_runner = JsonErrorsAppRunner(
        create_app(settings, runner=runner),
        handler_class=TrainerRequestHandler,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    try:
        await app_runner.setup()
        if sock is not None:
            await web.SockSite(app_runner, sock).start()
        else:
            await web.TCPSite(app_runner, settings.trainer_host, settings.trainer_port).start()
    except BaseException:
        await app_runner.cleanup()
        await runner.stop()
        raise
    handle = TrainerHandle(runner, app_runner)
    log.info("trainer listening on %s", handle.url)
    return handle
