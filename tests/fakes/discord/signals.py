"""Wake test-side waiters whenever the fake's state changes.

Waits re-check their condition on every change (and every ``POLL_INTERVAL``, for conditions
on the bot's own state that the fake cannot see change) instead of sleeping a fixed time,
and fail with a description of what *was* recorded, so a failing test says what the bot did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.01


class ChangeSignal:
    """A broadcast "something changed" event that every waiter can observe once."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        # Swap in a fresh event so waiters that wake up and re-check block again.
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        check: Callable[[], T | None],
        *,
        timeout: float,  # noqa: ASYNC109 - a per-wait timeout reads best in tests
        describe: Callable[[], str],
    ) -> T:
        """Return the first truthy ``check()``; raise TimeoutError with ``describe()`` if none."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._event
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"waited {timeout:.1f}s in vain: {describe()}")
            try:
                await asyncio.wait_for(event.wait(), min(remaining, POLL_INTERVAL))
            except TimeoutError:
                continue
