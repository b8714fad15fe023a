"""Durations and sizes in words, for Discord and the command line alike (no Discord here)."""

from __future__ import annotations

from i18n import Language, text


def duration(seconds: int, language: Language) -> str:
    """ "12 min", "1 h 5 min" / "12分", "1時間5分"; at least a minute."""
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return text("training.duration.hours", language, hours=hours, minutes=minutes)
    return text("training.duration.minutes", language, minutes=max(minutes, 1))


def estimated_time(seconds: float, language: Language) -> str:
    """An estimated duration: "about 12 min" / "約 12分"."""
    return text("training.estimate.about", language, time=duration(round(seconds), language))


def byte_size(count: int) -> str:
    """ "4.8 GB", "35 MB": the same in both languages."""
    if count >= 1_000_000_000:
        return f"{count / 1_000_000_000:.1f} GB"
    return f"{max(count / 1_000_000, 1):.0f} MB"
