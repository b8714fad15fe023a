"""Discord glue for the robots' chat gateway; the logic lives in gateway/."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import staff_only
from bot.language import reply_language
from bot.translator import localized
from cogs.gateway._render import key_message, revoke_message, try_embed
from gateway.trying import MAX_TRY_CHARS, try_model
from robots.model_ids import validate_model_id
from robots.stack_ids import MAX_STACK_ID

if TYPE_CHECKING:
    from bot.client import KoboBot

StackId = app_commands.Range[int, 1, MAX_STACK_ID]
Said = app_commands.Range[str, 1, MAX_TRY_CHARS]


class RobotChat(commands.Cog):
    def __init__(self, bot: KoboBot):
        self.bot = bot
        self.gateway = bot.services.gateway
        self.robots = bot.services.robots

    @app_commands.command(name="robot-key", description=localized("command.robot_key.description"))
    @app_commands.describe(
        stack_id=localized("command.robot_key.option.stack_id"),
        revoke=localized("command.robot_key.option.revoke"),
    )
    @app_commands.guild_only()
    @staff_only()
    async def robot_key(
        self, interaction: discord.Interaction, stack_id: StackId, revoke: bool = False
    ):
        user, language = interaction.user, reply_language(interaction)
        if revoke:
            revoked = await self.gateway.keys.revoke(
                stack_id, by_id=str(user.id), by_name=user.display_name
            )
            await interaction.response.send_message(
                revoke_message(stack_id, revoked, language), ephemeral=True
            )
            return
        issued = await self.gateway.keys.issue(
            stack_id, by_id=str(user.id), by_name=user.display_name
        )
        # Ephemeral, and nowhere else: the key is shown this once and never stored.
        await interaction.response.send_message(
            key_message(issued, self.bot.settings.device_api_public_url, language), ephemeral=True
        )

    @app_commands.command(name="try", description=localized("command.try.description"))
    @app_commands.describe(
        model=localized("command.try.option.model"),
        message=localized("command.try.option.message"),
        system_prompt=localized("command.try.option.system_prompt"),
    )
    @app_commands.guild_only()
    @staff_only()
    async def try_model(
        self,
        interaction: discord.Interaction,
        model: str,
        message: Said,
        system_prompt: Said | None = None,
    ):
        model = validate_model_id(model)  # refused before "thinking…", privately
        await interaction.response.defer(ephemeral=True, thinking=True)
        answer = await try_model(self.gateway, model, message, system_prompt)
        await interaction.followup.send(
            embed=try_embed(model, answer, reply_language(interaction)), ephemeral=True
        )

    @try_model.autocomplete("model")
    async def _model_choices(self, interaction: discord.Interaction, current: str):
        local = [model.name for model in await self.gateway.local_models.all()]
        needle = current.strip().casefold()
        names = [name for name in local if needle in name.casefold()]
        names += await self.robots.known_models(current)
        return [app_commands.Choice(name=n[:100], value=n) for n in dict.fromkeys(names)][:25]
