"""The device API application factory.

Two ways to run it:

* in the bot's process: ``create_app(settings, db=db)`` with the bot's open :class:`Database`
  (and, optionally, its :class:`LastSeenRecorder`). The bot owns the database: stop the API
  (``stop_device_api``) before closing it, so the last sightings are written;
* alone (``python -m device_api``): ``create_app(settings)`` opens the database file named in
  the settings at startup and closes it at cleanup.

Either way the app loads the model table at startup and runs the last-seen flush loop. The
robots' chat gateway is the bot's (``gateway=``, shared with /try) or, alone, the app's own,
closed (its engines stopped) at cleanup.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from config.settings import DeviceApiSettings
from device_api.chat import GatewayEndpoints
from device_api.directory import EXTERNAL_WRITE_CHECK_SECONDS, ModelDirectory
from device_api.keys import DATABASE, RECORDER, SETTINGS
from device_api.last_seen_flush import PeriodicFlush
from device_api.routes import setup_routes
from device_api.views import FirmwareEndpoint
from gateway.service import Gateway
from i18n import load_catalogues
from storage.database import Database
from storage.last_seen import LastSeenRecorder

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def create_app(
    settings: DeviceApiSettings,
    *,
    db: Database | None = None,
    recorder: LastSeenRecorder | None = None,
    gateway: Gateway | None = None,
    external_write_check_seconds: float = EXTERNAL_WRITE_CHECK_SECONDS,
) -> web.Application:
    """Build the app; see the module docstring for the two ways to provide the database."""
    if db is None and recorder is not None:
        raise ValueError("a recorder needs its database: pass db= as well")
    app = web.Application()
    app[SETTINGS] = settings
    app.on_startup.append(_read_messages)
    if db is None:
        app.cleanup_ctx.append(_own_database)
    else:
        app[DATABASE] = db
        app[RECORDER] = recorder or _recorder(db, settings)
    firmware = FirmwareEndpoint()
    app.cleanup_ctx.append(_model_directory(external_write_check_seconds, firmware))
    app.cleanup_ctx.append(_last_seen_flush)
    chat = GatewayEndpoints()
    app.cleanup_ctx.append(_chat_gateway(gateway, chat))
    setup_routes(app, settings, firmware, chat)
    return app


async def _read_messages(app: web.Application) -> None:
    # A bad robot number is answered with a catalogue text (robots/stack_ids.py): read the
    # catalogues now, off the event loop, not in the middle of the first such request.
    await asyncio.to_thread(load_catalogues)


async def _own_database(app: web.Application) -> AsyncIterator[None]:
    db = await Database.open(app[SETTINGS].database_path)
    app[DATABASE] = db
    app[RECORDER] = _recorder(db, app[SETTINGS])
    try:
        yield
    finally:
        await db.close()


def _recorder(db: Database, settings: DeviceApiSettings) -> LastSeenRecorder:
    return LastSeenRecorder(db, max_unassigned=settings.last_seen_max_unassigned)


def _model_directory(check_seconds: float, firmware: FirmwareEndpoint) -> CleanupContext:
    async def model_directory(app: web.Application) -> AsyncIterator[None]:
        directory = ModelDirectory(
            app[DATABASE], app[SETTINGS].default_model, check_seconds=check_seconds
        )
        await directory.load()
        firmware.serve(directory, app[RECORDER])
        yield

    return model_directory


def _chat_gateway(given: Gateway | None, chat: GatewayEndpoints) -> CleanupContext:
    async def chat_gateway(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        gateway = given or Gateway(settings, app[DATABASE], settings.default_model)
        chat.serve(gateway, app[RECORDER])
        try:
            yield
        finally:
            if given is None:  # ours: stop its engines before the database closes
                await gateway.close()

    return chat_gateway


async def _last_seen_flush(app: web.Application) -> AsyncIterator[None]:
    flush = PeriodicFlush(app[RECORDER], app[SETTINGS].last_seen_flush_seconds)
    flush.start()
    try:
        yield
    finally:
        # Runs before the database closes (cleanup contexts unwind in reverse order).
        await flush.stop()
