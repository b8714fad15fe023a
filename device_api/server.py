"""Serving the app on a TCP port: used by ``python -m device_api`` and by the bot's loop.

Connections are bounded by the app's settings and by the process's descriptor limit (see
protocol.py; the cap is logged at start) and the access log writes one short line per request
(see access_log.py).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.log import access_logger

from device_api.access_log import ShortAccessLogger
from device_api.keys import SETTINGS
from device_api.protocol import ConnectionLimits, DeviceApiRunner

log = logging.getLogger(__name__)

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
    limits = ConnectionLimits.from_settings(app[SETTINGS])
    report_connection_cap(limits)
    runner = DeviceApiRunner(
        app,
        limits=limits,
        access_log=access_log,
        access_log_class=ShortAccessLogger,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port, backlog=limits.backlog).start()
    except BaseException:
        # Unwinds whatever startup already did (e.g. closes a database it opened).
        await runner.cleanup()
        raise
    return runner


def report_connection_cap(limits: ConnectionLimits) -> None:
    """One line at start: how many connections at once, and why not more."""
    if limits.lowered:
        log.warning(
            "serving at most %d connections at once, not DEVICE_API_MAX_CONNECTIONS=%d: this"
            " process may open only %d files (RLIMIT_NOFILE; raise it with ulimit -n)",
            limits.max_connections,
            limits.configured_connections,
            limits.descriptor_limit,
        )
    else:
        log.info(
            "serving at most %d connections at once (DEVICE_API_MAX_CONNECTIONS; the process"
            " may open %s files)",
            limits.max_connections,
            limits.descriptor_limit or "any number of",
        )


async def stop_device_api(runner: web.AppRunner) -> None:
    """Stop listening, finish requests in flight, write last-seen, close what the app opened."""
    await runner.cleanup()


def bound_addresses(runner: web.AppRunner) -> list[tuple[str, int]]:
    return [(address[0], address[1]) for address in runner.addresses]
