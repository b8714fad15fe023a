"""Small helpers for answering an interaction whether or not it was acknowledged yet."""

from __future__ import annotations

import logging

import discord

log = logging.getLogger(__name__)


async def send_ephemeral(interaction: discord.Interaction, message: str, **kwargs) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(message, ephemeral=True, **kwargs)
    except discord.HTTPException:
        log.warning("could not tell the user about an error", exc_info=True)
