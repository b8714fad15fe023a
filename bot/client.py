"""The discord.py bot: loads the extensions, syncs app commands, renders every command error."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import explain, user_message
from bot.replies import send_ephemeral

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.services import Services
    from config import Settings

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.robots",
    "cogs.datasets",
    "cogs.training",
)


class KoboBot(commands.Bot):
    def __init__(
        self, settings: Settings, services: Services, scheduler: AsyncIOScheduler, **options
    ):
        intents = discord.Intents.default()
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=KoboTree,
            **options,
        )
        self.settings = settings
        self.services = services
        self.scheduler = scheduler

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.guild_id is not None:
            guild = discord.Object(id=self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d app commands to guild %s", len(synced), self.settings.guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d app commands globally", len(synced))

    async def close(self) -> None:
        # Unload first, so each extension stops its scheduled work while Discord and the
        # database are still there for it to finish.
        for extension in reversed(list(self.extensions)):
            try:
                await self.unload_extension(extension)
            except commands.ExtensionError:
                log.exception("unloading %s failed", extension)
        await super().close()

    async def on_ready(self) -> None:
        log.info("logged in to Discord as %s (%s)", self.user, getattr(self.user, "id", "?"))


class KoboTree(app_commands.CommandTree["KoboBot"]):
    """The one error handler: every command error becomes a clear, ephemeral message."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.TransformerError) and user_message(original) is None:
            message = f"I could not understand {error.value!r} for that option."
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            message = explain(original, f"in /{name}")
        await send_ephemeral(interaction, message)
