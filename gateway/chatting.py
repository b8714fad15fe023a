""" "Robots are chatting": a file whose modification time the gateway keeps fresh while the
embedded engine answers, so that a training on the same machine leaves it the CPU.

The trainer's worker reads the file's age between training steps (trainer/cpu_share.py): a
file touched within the last few seconds means "use fewer threads". A plain file needs no new
connection between the gateway (in the bot or the device API) and the trainer (embedded, or
``python -m trainer`` beside it); each process that serves robots touches it, none deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)

CHATTING_FILE = "robots-chatting"
# Well under trainer/cpu_share.py's QUIET_SECONDS: an answer that takes long still counts.
REFRESH_SECONDS = 2.0


def chatting_file(data_dir: Path) -> Path:
    return Path(data_dir) / CHATTING_FILE


class ChattingSignal:
    """``async with signal.chatting():`` around each answer of the embedded engine."""

    def __init__(self, path: Path, *, refresh_seconds: float = REFRESH_SECONDS):
        self.path = path
        self._refresh_seconds = refresh_seconds
        self._in_flight = 0
        self._refresher: asyncio.Task[None] | None = None
        self._warned = False

    @contextlib.asynccontextmanager
    async def chatting(self) -> AsyncIterator[None]:
        self._in_flight += 1
        try:
            if self._refresher is None:
                self._refresher = asyncio.get_running_loop().create_task(self._refresh())
                await asyncio.to_thread(self._touch)  # before the engine is asked
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._refresher is not None:
                self._refresher.cancel()
                self._refresher = None
                # The end of the last answer starts the quiet time the trainer waits for.
                await asyncio.to_thread(self._touch)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            await asyncio.to_thread(self._touch)

    def _touch(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab"):
                pass
            os.utime(self.path)
        except OSError as exc:  # never a reason to fail a robot's answer
            if not self._warned:
                self._warned = True
                log.warning(
                    "cannot touch %s (training will not yield to robots): %s", self.path, exc
                )
