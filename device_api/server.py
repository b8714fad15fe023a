"""Serving the app on a TCP port: used by ``python -m device_api`` and by the bot's loop.

Connections are bounded by the app's settings (see protocol.py) and the access log writes one
short line per request (see access_log.py).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.log import access_logger

from device_api.access_log import ShortAccessLogger
from device_api.keys import SETTINGS
from device_api.protocol import ConnectionLimits, DeviceApiRunner

SHUTDOWN_TIMEOUT_SECONDS = 5.0


async def start_device_api(
    app: web.Application,
    host: str,
    port: int,
    *,
    access_log: logging.Logger | None = access_logger,
) -> web.AppRunner:
    """Start ``app`` (its startup opens/loads what it needs) and listen on ``host:port``.

    Signals are left to the caller. Port 0 picks a free port; see :func:`bound_addresses`.
    """
    runner = DeviceApiRunner(
        app,
        limits=ConnectionLimits.from_settings(app[SETTINGS]),
        access_log=access_log,
        access_log_class=ShortAccessLogger,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        # Unwinds whatever startup already did (e.g. closes a database it opened).
        await runner.cleanup()
        raise
    return runner


async def stop_device_api(runner: web.AppRunner) -> None:
    """Stop listening, finish requests in flight, write last-seen, close what the app opened."""
    await runner.cleanup()


def bound_addresses(runner: web.AppRunner) -> list[tuple[str, int]]:
    return [(address[0], address[1]) for address in runner.addresses]
