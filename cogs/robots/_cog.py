"""Discord glue for robot assignments; the logic lives in robots.service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import staff_only
from cogs.robots._render import change_message, stacks_embed
from robots.stack_ids import MAX_STACK_ID

if TYPE_CHECKING:
    from bot.client import KoboBot

StackId = app_commands.Range[int, 1, MAX_STACK_ID]


class Robots(commands.Cog):
    def __init__(self, bot: KoboBot):
        self.bot = bot
        self.robots = bot.services.robots

    @app_commands.command(name="assign", description="Choose which model a Stack-chan robot uses")
    @app_commands.describe(stack_id="The robot's number", model="OpenAI model name")
    @app_commands.guild_only()
    @staff_only()
    async def assign(self, interaction: discord.Interaction, stack_id: StackId, model: str):
        user = interaction.user
        change = await self.robots.assign(
            stack_id, model, by_id=str(user.id), by_name=user.display_name
        )
        await interaction.response.send_message(change_message(change, self.robots.default_model))

    @assign.autocomplete("model")
    async def _model_choices(self, interaction: discord.Interaction, current: str):
        models = await self.robots.known_models(current)
        return [app_commands.Choice(name=m[:100], value=m) for m in models]

    @app_commands.command(name="unassign", description="Put a robot back on the default model")
    @app_commands.describe(stack_id="The robot's number")
    @app_commands.guild_only()
    @staff_only()
    async def unassign(self, interaction: discord.Interaction, stack_id: StackId):
        change = await self.robots.unassign(
            stack_id, by_id=str(interaction.user.id), by_name=interaction.user.display_name
        )
        if change.old_model is None:
            message = (
                f"Stack-chan **{stack_id}** had no model assigned; "
                f"it uses the default `{self.robots.default_model}`."
            )
        else:
            message = change_message(change, self.robots.default_model)
        await interaction.response.send_message(message)

    @app_commands.command(name="stacks", description="Every robot, its model and its last request")
    @app_commands.guild_only()
    async def stacks(self, interaction: discord.Interaction):
        robots = await self.robots.overview()
        await interaction.response.send_message(
            embed=stacks_embed(robots, self.robots.default_model)
        )
