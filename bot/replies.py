"""Small helpers for answering an interaction whether or not it was acknowledged yet."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import discord

from bot.errors import explain
from bot.language import reply_language

log = logging.getLogger(__name__)


async def send_ephemeral(interaction: discord.Interaction, message: str, **kwargs) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(message, ephemeral=True, **kwargs)
    except discord.HTTPException:
        log.warning("could not tell the user about an error", exc_info=True)


@contextlib.asynccontextmanager
async def problems_replace_the_reply(
    interaction: discord.Interaction, context: str
) -> AsyncIterator[None]:
    """After a public defer, an error becomes the reply itself.

    By then the reply may say "Waiting…" or show progress, and the error handler's followup would
    reach only the author and leave that standing: the problem replaces it instead, so the whole
    team sees what to fix and nothing looks unfinished.
    """
    try:
        yield
    except Exception as error:
        await interaction.edit_original_response(
            content=explain(error, context, reply_language(interaction)), attachments=[]
        )
