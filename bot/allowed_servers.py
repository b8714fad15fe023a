"""kobo acts only in the server(s) named in GUILD_ID: every other interaction is refused here.

All of kobo's data (robots, datasets, the OpenAI key) is the workshop's, so a command, button,
form or autocomplete from any other server, or from a direct message, is answered with a short
refusal before any cog code runs: nothing is read or written. Slash commands and autocomplete
pass through ``KoboTree.interaction_check``; buttons and forms through :class:`KoboView`,
:class:`KoboModal` (or, for items discord.py builds itself, :func:`admit`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord

from bot.language import reply_language
from bot.replies import send_ephemeral
from i18n import Message, msg

log = logging.getLogger(__name__)


class ServerGate:
    """Knows the allowed servers; ``None`` (GUILD_ID unset) allows none."""

    def __init__(self, allowed: Iterable[int] | None):
        self.allowed: frozenset[int] = frozenset(allowed or ())
        self._warned: set[int] = set()

    def refusal(self, interaction: discord.Interaction) -> Message | None:
        """Why kobo will not act on ``interaction``, or None when it may."""
        guild_id = interaction.guild_id
        if guild_id is None:
            return msg("server.not_in_direct_messages")
        if guild_id in self.allowed:
            return None
        self._warn_once(guild_id)
        return msg("server.not_enabled", guild_id=guild_id)

    async def admit(self, interaction: discord.Interaction) -> bool:
        """True when kobo may act; otherwise answer with the refusal and return False."""
        message = self.refusal(interaction)
        if message is None:
            return True
        if interaction.type is discord.InteractionType.autocomplete:
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException:
                log.debug("could not answer a refused autocomplete", exc_info=True)
        else:
            await send_ephemeral(interaction, message.render(reply_language(interaction)))
        return False

    def _warn_once(self, guild_id: int) -> None:
        if guild_id in self._warned:
            return
        self._warned.add(guild_id)
        if self.allowed:
            log.warning(
                "refused an interaction from server %d: it is not in GUILD_ID (logged once)",
                guild_id,
            )
        else:
            log.warning(
                "GUILD_ID is not set, so kobo refuses every command; server %d tried one "
                "(add its id to GUILD_ID to enable kobo there; logged once)",
                guild_id,
            )


async def admit(interaction: discord.Interaction) -> bool:
    """:meth:`ServerGate.admit` with the bot's gate; for buttons and forms."""
    return await interaction.client.server_gate.admit(interaction)  # type: ignore[attr-defined]


class KoboView(discord.ui.View):
    """Every view of kobo: refuses presses from outside the allowed servers.

    Subclasses that add their own check call ``await super().interaction_check(...)`` first.
    """

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await admit(interaction)


class KoboModal(discord.ui.Modal):
    """Every form of kobo: refuses submissions from outside the allowed servers."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await admit(interaction)
