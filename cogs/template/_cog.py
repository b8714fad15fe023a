"""Discord glue for /template; the workbook is built by augment.template."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from augment.template import template_xlsx
from bot.language import reply_language
from bot.translator import localized
from i18n import text

if TYPE_CHECKING:
    from bot.client import KoboBot

TEMPLATE_FILENAME = "kobo-template.xlsx"


class Template(commands.Cog):
    def __init__(self, bot: KoboBot):
        self.bot = bot

    @app_commands.command(name="template", description=localized("command.template.description"))
    @app_commands.guild_only()
    async def template(self, interaction: discord.Interaction):
        language = reply_language(interaction)
        # openpyxl builds the workbook in Python: not on the event loop (once per language).
        workbook = await asyncio.to_thread(template_xlsx, language)
        reply = text("template.reply", language, guide=text("template.sheet.guide", language))
        # Only whoever asked gets the file: the channel is not filled with copies.
        await interaction.response.send_message(
            reply, file=discord.File(io.BytesIO(workbook), TEMPLATE_FILENAME), ephemeral=True
        )
