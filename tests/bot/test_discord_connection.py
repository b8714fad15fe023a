"""How long kobo waits between attempts to reach Discord."""

from __future__ import annotations

from itertools import islice

from bot.discord_connection import retry_delays


def test_retries_back_off_to_once_a_minute():
    assert list(islice(retry_delays(), 9)) == [1, 2, 4, 8, 16, 32, 60, 60, 60]
