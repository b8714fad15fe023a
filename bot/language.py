"""Which language kobo speaks to whom: ``KOBO_LANGUAGE`` when set, else what Discord says.

A reply to one person follows that person's Discord language (``interaction.locale``); a
message to a channel (job notices) follows the server's preferred language, since everyone
there reads it.
"""

from __future__ import annotations

import discord

from config import Settings
from i18n import Language, choose_language


def reply_language(interaction: discord.Interaction) -> Language:
    """The language of a reply to whoever made ``interaction``."""
    settings: Settings = interaction.client.settings  # type: ignore[attr-defined]
    return choose_language(settings.kobo_language, interaction.locale.value)


def server_language(settings: Settings, guild: discord.Guild | None) -> Language:
    """The language of a message posted in a channel of ``guild``."""
    locale = guild.preferred_locale.value if guild is not None else None
    return choose_language(settings.kobo_language, locale)
