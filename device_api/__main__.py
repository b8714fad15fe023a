"""``python -m device_api``: serve the device API alone from the bot's database file.

Settings come from the environment and ``.env`` (see config/settings.py); a bad one ends the
process with status 2 and one line. SIGINT/SIGTERM stop it cleanly (status 0) after writing the
buffered last-seen sightings.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading

from config.settings import DeviceApiSettings, load_settings
from device_api.app import create_app
from device_api.server import bound_addresses, start_device_api, stop_device_api
from storage.database import DatabaseError

log = logging.getLogger("device_api")

AIOSQLITE_STOP_SECONDS = 2.0


async def serve(settings: DeviceApiSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        runner = await start_device_api(
            create_app(settings), settings.device_api_host, settings.device_api_port
        )
    except DatabaseError:
        await _let_aiosqlite_threads_finish()
        raise
    try:
        for host, port in bound_addresses(runner):
            log.info("device API listening on http://%s:%d", host, port)
        await stop.wait()
        log.info("stopping the device API")
    finally:
        await stop_device_api(runner)
    log.info("device API stopped")


async def _let_aiosqlite_threads_finish() -> None:
    # aiosqlite stops a connection that failed to open without waiting for its worker thread;
    # if asyncio.run closes the loop first, that thread prints a traceback on its way out.
    workers = [
        thread
        for thread in threading.enumerate()
        if thread.name.endswith("(_connection_worker_thread)")
    ]
    await asyncio.to_thread(_join, workers, AIOSQLITE_STOP_SECONDS)


def _join(threads: list[threading.Thread], seconds: float) -> None:
    for thread in threads:
        thread.join(seconds)


def main() -> int:
    settings = load_settings(DeviceApiSettings)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(settings))
    except DatabaseError as exc:
        print(f"kobo: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        address = f"{settings.device_api_host}:{settings.device_api_port}"
        print(f"kobo: cannot listen on {address}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
