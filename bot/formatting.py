"""Formatting shared by every feature's messages."""

from __future__ import annotations

from datetime import datetime

import discord


def relative_time(iso: str | None) -> str:
    """A Discord timestamp ("3 minutes ago", in each reader's own time zone), or "never"."""
    if not iso:
        return "never"
    return discord.utils.format_dt(datetime.fromisoformat(iso), "R")
