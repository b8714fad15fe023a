"""Progress of a job running in a worker thread, shown by editing one Discord message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import discord

log = logging.getLogger(__name__)

# Discord rate-limits message edits; one every couple of seconds is plenty for a person.
EDIT_INTERVAL_SECONDS = 2.0

Update = TypeVar("Update")


class ThrottledProgress(Generic[Update]):
    """``report(update)`` may be called from any thread; at most one edit per interval, showing
    ``render(update)`` of the latest update."""

    def __init__(
        self,
        edit: Callable[[str], Awaitable[object]],
        render: Callable[[Update], str],
        interval: float | None = None,
    ):
        self._edit = edit
        self._render = render
        self._interval = EDIT_INTERVAL_SECONDS if interval is None else interval
        self._loop = asyncio.get_running_loop()
        self._latest: Update | None = None
        self._shown: Update | None = None
        self._task: asyncio.Task | None = None

    def report(self, update: Update) -> None:
        # Called from worker threads: only hand the update to the loop.
        self._loop.call_soon_threadsafe(self._set, update)

    def _set(self, update: Update) -> None:
        self._latest = update

    async def __aenter__(self) -> ThrottledProgress[Update]:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            latest = self._latest
            if latest is None or latest == self._shown:
                continue
            self._shown = latest
            try:
                await self._edit(self._render(latest))
            except discord.HTTPException:
                log.warning("could not update a progress message", exc_info=True)
