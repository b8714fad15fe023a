"""How many chats run at once per upstream, and how long the rest may wait.

Requests beyond ``concurrent`` wait in line, at most ``queued`` of them and each at most
``queue_seconds``; anything beyond that is refused at once with :class:`Overloaded` (HTTP 429
with ``Retry-After``), so a crowd of robots never makes the server hang or pile up work.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.errors import Overloaded

# Until an answer has been timed, guess this long for one (seconds).
FIRST_GUESS_SECONDS = 2.0
# How many of the latest answers say how long an answer takes.
RECENT_ANSWERS = 16


class ConcurrencyLimit:
    def __init__(self, concurrent: int, queued: int, queue_seconds: float):
        self._slots = asyncio.Semaphore(concurrent)
        self._concurrent = concurrent
        self._max_queued = queued
        self._queue_seconds = queue_seconds
        self._waiting = 0
        self._durations: deque[float] = deque(maxlen=RECENT_ANSWERS)  # how long slots were held
        self._started: list[float] = []  # when each answer running now took its slot

    @property
    def waiting(self) -> int:
        return self._waiting

    def retry_after(self) -> int:
        """Seconds until a slot is likely free for one more request: when the running answers
        end, judged by how long recent ones took, and the rounds the line ahead of it needs.

        Answers that start together end together: a slot is not free sooner because there are
        several (the SDK gives up after its retries, so a too-short guess fails the request)."""
        typical = statistics.median(self._durations) if self._durations else FIRST_GUESS_SECONDS
        now = time.monotonic()
        # An answer already past the typical time may end any moment: a second from now.
        ends = sorted(max(started + typical - now, 1.0) for started in self._started)
        if not ends:
            return 1
        rounds, place = divmod(self._waiting, len(ends))
        return math.ceil(ends[place] + rounds * typical)

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
        self._started.append(started)
        try:
            yield
        finally:
            self._started.remove(started)
            self._slots.release()
            self._durations.append(time.monotonic() - started)
