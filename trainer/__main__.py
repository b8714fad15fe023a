"""``python -m trainer``: the local trainer alone, e.g. on a GPU machine that trains for a
workshop's bot elsewhere (the bot then sets TRAINER_URL and TRAINER_TOKEN).

Settings come from the environment and ``.env`` (TrainerSettings); a bad one, an unusable
database file or a port in use ends the process with status 2 and one line. SIGINT/SIGTERM stop
it (status 0); a running training is killed and resumes at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from config.settings import TrainerSettings, load_settings
from storage.database import Database, DatabaseError
from trainer.base_models import BaseModelTableError
from trainer.server import TrainerConfigError, start_trainer

log = logging.getLogger("trainer")


async def serve(settings: TrainerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    db = await Database.open(settings.database_path)
    try:
        handle = await start_trainer(settings, db)
        try:
            await stop.wait()
            log.info("stopping the trainer")
        finally:
            await handle.stop()
    finally:
        await db.close()
    log.info("trainer stopped")


def main() -> int:
    settings = load_settings(TrainerSettings)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(settings))
    except TrainerConfigError as exc:
        problem = f"configuration error: {exc}"
    except BaseModelTableError as exc:
        problem = f"LOCAL_BASE_MODELS: {exc}"
    except DatabaseError as exc:
        problem = f"DATABASE_PATH: {exc}"
    except OSError as exc:
        address = f"{settings.trainer_host}:{settings.trainer_port}"
        problem = f"cannot listen on {address} (TRAINER_HOST/TRAINER_PORT): {exc.strerror or exc}"
    else:
        return 0
    print(f"kobo: {problem}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
