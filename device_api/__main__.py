"""``python -m device_api``: serve the device API alone from the bot's database file.

Settings come from the environment and ``.env`` (see config/settings.py); a bad one, an
unusable database file or a port in use ends the process with status 2 and one line.
SIGINT/SIGTERM stop it cleanly (status 0) after writing the buffered last-seen sightings.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from config.settings import DeviceApiSettings, load_settings
from device_api.app import create_app
from device_api.server import bound_addresses, start_device_api, stop_device_api
from storage.database import DatabaseError

log = logging.getLogger("device_api")


async def serve(settings: DeviceApiSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = await start_device_api(
        create_app(settings), settings.device_api_host, settings.device_api_port
    )
    try:
        for host, port in bound_addresses(runner):
            log.info("device API listening on http://%s:%d", host, port)
        await stop.wait()
        log.info("stopping the device API")
    finally:
        await stop_device_api(runner)
    log.info("device API stopped")


def main() -> int:
    settings = load_settings(DeviceApiSettings)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(settings))
    except DatabaseError as exc:
        print(f"kobo: DATABASE_PATH: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        address = f"{settings.device_api_host}:{settings.device_api_port}"
        print(
            f"kobo: cannot listen on {address} (DEVICE_API_HOST/DEVICE_API_PORT): "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
