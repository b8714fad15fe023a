"""How many chats run at once per upstream, and how long the rest may wait.

Requests beyond ``concurrent`` wait in line, at most ``queued`` of them and each at most
``queue_seconds``; anything beyond that is refused at once with :class:`Overloaded` (HTTP 429
with ``Retry-After``), so a crowd of robots never makes the server hang or pile up work.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.errors import Overloaded

# Until an answer has been timed, guess this long for one (seconds).
FIRST_GUESS_SECONDS = 2.0
MAX_RETRY_AFTER_SECONDS = 60


class ConcurrencyLimit:
    def __init__(self, concurrent: int, queued: int, queue_seconds: float):
        self._slots = asyncio.Semaphore(concurrent)
        self._concurrent = concurrent
        self._max_queued = queued
        self._queue_seconds = queue_seconds
        self._waiting = 0
        self._answer_seconds = FIRST_GUESS_SECONDS  # moving average of the time a slot is held

    @property
    def waiting(self) -> int:
        return self._waiting

    def retry_after(self) -> int:
        """Seconds until a slot is likely free for one more request."""
        rounds = (self._waiting + 1) / self._concurrent
        guess = math.ceil(self._answer_seconds * rounds)
        return max(1, min(MAX_RETRY_AFTER_SECONDS, guess))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``concurrent`` places while the body runs, or raise Overloaded."""
        if self._slots.locked():
            if self._waiting >= self._max_queued:
                raise Overloaded(self.retry_after())
            self._waiting += 1
            try:
                async with asyncio.timeout(self._queue_seconds):
                    await self._slots.acquire()
            except TimeoutError:
                raise Overloaded(self.retry_after()) from None
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        started = time.monotonic()
        try:
            yield
        finally:
            self._slots.release()
            self._answer_seconds = 0.8 * self._answer_seconds + 0.2 * (time.monotonic() - started)
