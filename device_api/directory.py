"""The robot -> model table, cached in memory for the device API's hot path.

Robots ask for their model on every boot and a workshop may boot dozens at once; a thread hop
to aiosqlite per request would cost most of the server's throughput. The table is small (a few
thousand rows at most), so it is kept in memory as ready-made response bodies and reloaded
whole when it may have changed:

* writes by this process (the bot assigning a model while it runs the API in-process) bump
  ``Database.write_generation``; comparing it is free, so the next request sees the change;
* writes by another process (the bot while ``python -m device_api`` runs apart) are only
  visible through ``PRAGMA data_version``, which needs a database round trip; it is checked at
  most once per ``check_seconds`` (1 s by default), and only when requests arrive. Such a write
  is therefore served within about ``check_seconds`` plus one reload.

A reload swaps in a complete new dict in one assignment, so every request sees either the old
table or the new one. A failed reload keeps the old table (and is retried after
``check_seconds``): robots keep booting while the database is busy or gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from device_api.responses import legacy_body
from robots.model_ids import InvalidModelId, validate_model_id
from storage.assignments import AssignmentRepository
from storage.database import Database

log = logging.getLogger(__name__)

EXTERNAL_WRITE_CHECK_SECONDS = 1.0


class ModelDirectory:
    def __init__(
        self,
        db: Database,
        default_model: str,
        *,
        check_seconds: float = EXTERNAL_WRITE_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._db = db
        self._assignments = AssignmentRepository(db)
        self._default_body = legacy_body(default_model)
        self._check_seconds = check_seconds
        self._clock = clock
        self._bodies: dict[int, bytes] = {}
        self._generation = -1  # never equal to a real generation: the first use loads
        self._data_version: int | None = None
        self._next_check = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    def fresh_body(self, stack_id: int) -> bytes | None:
        """:meth:`legacy_body` without awaiting, or None when the table must be reloaded first.

        Most requests find the table fresh; answering them without a coroutine is measurably
        cheaper on the hot path (bench/device_api.py).
        """
        if self._is_stale():
            return None
        return self._bodies.get(stack_id, self._default_body)

    async def legacy_body(self, stack_id: int) -> bytes:
        """The firmware's answer for ``stack_id``: its assigned model, else the default."""
        if self._is_stale():
            await self._refresh_if_stale()
        return self._bodies.get(stack_id, self._default_body)

    def is_assigned(self, stack_id: int) -> bool:
        """Whether the table :meth:`legacy_body` just used has an assignment for ``stack_id``."""
        return stack_id in self._bodies

    async def load(self) -> None:
        """Read the table now (at startup, so the first robot does not wait)."""
        await self._refresh_if_stale()

    def _is_stale(self) -> bool:
        return self._db.write_generation != self._generation or self._clock() >= self._next_check

    async def _refresh_if_stale(self) -> None:
        # Concurrent requests share one reload. A reload already running may have started
        # before the write this caller must see, so after joining it check once more; the
        # second reload (ours or another waiter's) starts after that write.
        for _ in range(2):
            if not self._is_stale():
                return
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
            # shield: a cancelled request must not cancel the reload other requests wait for.
            await asyncio.shield(self._refreshing)

    async def _refresh(self) -> None:
        generation = self._db.write_generation
        started = self._clock()
        try:
            # Read the version before the rows: a commit in between makes the next check
            # reload once more, never miss a change.
            version = await self._db.data_version()
            if generation == self._generation and version == self._data_version:
                self._next_check = started + self._check_seconds
                return
            assignments = await self._assignments.all()
        except Exception:
            # Keep the generation/version we had: once the database answers again the
            # next check still sees that something changed.
            log.warning(
                "could not reload robot assignments; serving the previous table", exc_info=True
            )
            self._generation = generation
            self._next_check = started + self._check_seconds
            return
        bodies = {}
        for assignment in assignments:
            try:
                validate_model_id(assignment.model)
            except InvalidModelId as exc:
                log.warning(
                    "robot %d is assigned %r, which the firmware cannot use: %s",
                    assignment.stack_id,
                    assignment.model,
                    exc,
                )
            bodies[assignment.stack_id] = legacy_body(assignment.model)
        self._bodies = bodies
        self._generation = generation
        self._data_version = version
        self._next_check = started + self._check_seconds
        log.debug("loaded %d robot assignments", len(bodies))
