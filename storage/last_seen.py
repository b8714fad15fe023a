"""When each robot last asked for its model.

Robots ask on every boot, and a dashboard may poll; writing a row per request would turn reads
into writes. :class:`LastSeenRecorder` keeps the newest sighting per robot in memory and
:meth:`flush` writes them all in one short transaction (called periodically and at shutdown).

Anyone on the robots' Wi-Fi can ask for any id, so what unassigned ids can write is bounded:
robots with an assignment are always recorded, while at most ``max_unassigned`` robots without
one are kept, in memory between flushes and in the table, the most recently seen first (older
ones are dropped). A flood of made-up ids therefore costs a fixed amount of memory and rows, and
``/stacks`` stays short.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from storage.database import Database

log = logging.getLogger(__name__)

DEFAULT_MAX_UNASSIGNED = 200

# (Unix time, remote address): a plain tuple, formatted only at flush time, because record()
# runs on every robot request and its cost shows in the device API's throughput (bench/).
Sighting = tuple[float, str | None]

_UPSERT = (
    "INSERT INTO robot_last_seen (stack_id, seen_at, address) VALUES (?, ?, ?)"
    " ON CONFLICT (stack_id) DO UPDATE SET seen_at = excluded.seen_at,"
    " address = excluded.address WHERE excluded.seen_at >= robot_last_seen.seen_at"
)
# Keeps the newest ``?`` rows of robots without an assignment; assigned robots' rows stay.
_TRIM_UNASSIGNED = (
    "DELETE FROM robot_last_seen WHERE stack_id IN ("
    " SELECT s.stack_id FROM robot_last_seen AS s"
    " WHERE NOT EXISTS (SELECT 1 FROM robot_assignments AS a WHERE a.stack_id = s.stack_id)"
    " ORDER BY s.seen_at DESC, s.stack_id DESC LIMIT -1 OFFSET ?)"
)


class LastSeenRecorder:
    def __init__(self, db: Database, *, max_unassigned: int = DEFAULT_MAX_UNASSIGNED):
        if max_unassigned < 0:
            raise ValueError("max_unassigned cannot be negative")
        self._db = db
        self._max_unassigned = max_unassigned
        self._assigned: dict[int, Sighting] = {}
        # In sighting order, oldest first, so the oldest is the one dropped when it is full.
        self._unassigned: dict[int, Sighting] = {}
        self._dropped = 0

    def record(self, stack_id: int, address: str | None, *, assigned: bool = False) -> None:
        """Note a sighting; O(1), no I/O (this runs on the device API's hot path).

        ``assigned``: the caller knows the robot has an assignment, so it is always kept.
        Otherwise the sighting counts against ``max_unassigned``.
        """
        sighting = (time.time(), address)
        if assigned:
            self._assigned[stack_id] = sighting
            return
        self._add_unassigned(stack_id, sighting)

    def _add_unassigned(self, stack_id: int, sighting: Sighting) -> None:
        unassigned = self._unassigned
        unassigned.pop(stack_id, None)  # re-inserted at the end: the newest
        unassigned[stack_id] = sighting
        if len(unassigned) > self._max_unassigned:
            del unassigned[next(iter(unassigned))]
            self._dropped += 1

    @property
    def pending(self) -> int:
        return len(self._assigned) + len(self._unassigned)

    async def flush(self) -> int:
        """Write buffered sightings; returns how many robots. On failure they stay buffered."""
        if not (self._assigned or self._unassigned):
            return 0
        assigned, self._assigned = self._assigned, {}
        unassigned, self._unassigned = self._unassigned, {}
        batch = dict(unassigned)
        for stack_id, sighting in assigned.items():
            if stack_id not in batch or sighting[0] >= batch[stack_id][0]:
                batch[stack_id] = sighting
        try:
            async with self._db.transaction() as conn:
                await conn.executemany(
                    _UPSERT,
                    [(sid, _iso(seen), address) for sid, (seen, address) in batch.items()],
                )
                async with conn.execute(_TRIM_UNASSIGNED, (self._max_unassigned,)) as cur:
                    trimmed = cur.rowcount
        except BaseException:
            self._restore(assigned, unassigned)
            raise
        forgotten = self._dropped + max(trimmed, 0)
        self._dropped = 0
        if forgotten:
            # At most one line per flush, however many made-up ids a client sends.
            log.warning(
                "more robots without an assignment asked than LAST_SEEN_MAX_UNASSIGNED=%d;"
                " forgot the %d seen longest ago",
                self._max_unassigned,
                forgotten,
            )
        return len(batch)

    def _restore(self, assigned: dict[int, Sighting], unassigned: dict[int, Sighting]) -> None:
        """Put back a batch that could not be written, behind anything newer that came since."""
        for stack_id, sighting in assigned.items():
            self._assigned.setdefault(stack_id, sighting)
        newer, self._unassigned = self._unassigned, unassigned
        for stack_id, sighting in newer.items():
            self._add_unassigned(stack_id, sighting)


def _iso(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="seconds")
