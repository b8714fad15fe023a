"""Discord glue for robot assignments; the logic lives in robots.service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import staff_only
from bot.language import reply_language
from bot.paginator import PAGES_TIMEOUT_SECONDS, Page, page_window, send_pages
from bot.translator import localized
from cogs.robots._render import STACKS_PAGE_SIZE, change_message, stacks_embed
from i18n import Language, text
from robots.stack_ids import MAX_STACK_ID

if TYPE_CHECKING:
    from bot.client import KoboBot

StackId = app_commands.Range[int, 1, MAX_STACK_ID]


class Robots(commands.Cog):
    def __init__(self, bot: KoboBot):
        self.bot = bot
        self.robots = bot.services.robots
        self.pages_timeout = PAGES_TIMEOUT_SECONDS

    @app_commands.command(name="assign", description=localized("command.assign.description"))
    @app_commands.describe(
        stack_id=localized("command.assign.option.stack_id"),
        model=localized("command.assign.option.model"),
    )
    @app_commands.guild_only()
    @staff_only()
    async def assign(self, interaction: discord.Interaction, stack_id: StackId, model: str):
        user = interaction.user
        change = await self.robots.assign(
            stack_id, model, by_id=str(user.id), by_name=user.display_name
        )
        await interaction.response.send_message(
            change_message(change, self.robots.default_model, reply_language(interaction))
        )

    @assign.autocomplete("model")
    async def _model_choices(self, interaction: discord.Interaction, current: str):
        # Model names are ids, the same in every language.
        models = await self.robots.known_models(current)
        return [app_commands.Choice(name=m[:100], value=m) for m in models]

    @app_commands.command(name="unassign", description=localized("command.unassign.description"))
    @app_commands.describe(stack_id=localized("command.unassign.option.stack_id"))
    @app_commands.guild_only()
    @staff_only()
    async def unassign(self, interaction: discord.Interaction, stack_id: StackId):
        change = await self.robots.unassign(
            stack_id, by_id=str(interaction.user.id), by_name=interaction.user.display_name
        )
        language = reply_language(interaction)
        if change.old_model is None:
            message = text(
                "robots.nothing_to_unassign",
                language,
                stack_id=stack_id,
                model=self.robots.default_model,
            )
        else:
            message = change_message(change, self.robots.default_model, language)
        await interaction.response.send_message(message)

    @app_commands.command(name="stacks", description=localized("command.stacks.description"))
    @app_commands.describe(page=localized("command.stacks.option.page"))
    @app_commands.guild_only()
    async def stacks(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1
    ):
        await send_pages(
            interaction, self._stacks_page, first_page=page, expire_after=self.pages_timeout
        )

    async def _stacks_page(self, asked: int, language: Language) -> Page:
        robots = await self.robots.overview()
        window = page_window(len(robots), asked, STACKS_PAGE_SIZE)
        shown = list(window.rows(robots))
        return Page(stacks_embed(shown, robots, self.robots.default_model, language), window)
