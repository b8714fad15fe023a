"""When each robot last asked for its model.

Robots ask on every boot, and a dashboard may poll; writing a row per request would turn reads
into writes. :class:`LastSeenRecorder` keeps the newest sighting per robot in memory and
:meth:`flush` writes them all in one short transaction (called periodically and at shutdown).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from storage.database import Database

log = logging.getLogger(__name__)

# (Unix time, remote address): a plain tuple, formatted only at flush time, because record()
# runs on every robot request and its cost shows in the device API's throughput (bench/).
Sighting = tuple[float, str | None]


class LastSeenRecorder:
    def __init__(self, db: Database):
        self._db = db
        self._pending: dict[int, Sighting] = {}

    def record(self, stack_id: int, address: str | None) -> None:
        """Note a sighting; O(1), no I/O (this runs on the device API's hot path)."""
        self._pending[stack_id] = (time.time(), address)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write buffered sightings; returns how many. On failure they stay buffered."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        try:
            async with self._db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO robot_last_seen (stack_id, seen_at, address) VALUES (?, ?, ?)"
                    " ON CONFLICT (stack_id) DO UPDATE SET seen_at = excluded.seen_at,"
                    " address = excluded.address WHERE excluded.seen_at >= robot_last_seen.seen_at",
                    [(sid, _iso(seen), address) for sid, (seen, address) in batch.items()],
                )
        except BaseException:
            # Keep what we could not write, unless a newer sighting arrived meanwhile.
            for sid, sighting in batch.items():
                self._pending.setdefault(sid, sighting)
            raise
        return len(batch)


def _iso(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="seconds")
