"""Snowflake ids and timestamps shaped like Discord's.

discord.py derives ``created_at`` from the id, so ids encode the real creation time
(milliseconds since the Discord epoch in the top bits) and stay strictly increasing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time

DISCORD_EPOCH_MS = 1_420_070_400_000

_counter = itertools.count()
_last_id = 0


def new_snowflake() -> int:
    """Return a fresh, strictly increasing snowflake for the current time."""
    global _last_id
    now_ms = int(time.time() * 1000)
    candidate = ((now_ms - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0xFFF)
    # Two ids in the same millisecond may wrap the 12-bit counter; bumping keeps order.
    _last_id = max(candidate, _last_id + 1)
    return _last_id


def iso_now() -> str:
    """Current UTC time in the ISO-8601 form Discord puts in payloads."""
    return dt.datetime.now(dt.UTC).isoformat()
