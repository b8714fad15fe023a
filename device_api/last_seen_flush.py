"""Writing buffered last-seen sightings every few seconds, and once more at shutdown."""

from __future__ import annotations

import asyncio
import logging

from storage.last_seen import LastSeenRecorder

log = logging.getLogger(__name__)


class PeriodicFlush:
    """A background task that calls ``recorder.flush()`` every ``interval`` seconds.

    Stopping waits for a flush in progress instead of cancelling it: cancelling inside the
    write transaction could interrupt the COMMIT half-way through its thread hop.
    """

    def __init__(self, recorder: LastSeenRecorder, interval: float):
        self._recorder = recorder
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="last-seen flush")

    async def stop(self) -> None:
        """End the loop, then write whatever is still buffered."""
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._flush()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)
                return
            except TimeoutError:
                pass
            await self._flush()

    async def _flush(self) -> None:
        try:
            written = await self._recorder.flush()
        except Exception:
            # The recorder keeps the batch; the next flush tries again.
            log.warning(
                "could not write %d last-seen sightings; keeping them for the next try",
                self._recorder.pending,
                exc_info=True,
            )
        else:
            if written:
                log.debug("wrote %d last-seen sightings", written)
