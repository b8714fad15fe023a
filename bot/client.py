"""The discord.py bot: loads the extensions, syncs app commands, renders every command error."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.allowed_servers import ServerGate
from bot.errors import explain, user_message
from bot.language import reply_language
from bot.replies import send_ephemeral
from bot.translator import CatalogueTranslator
from i18n import text

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.services import Services
    from config import Settings

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.robots",
    "cogs.datasets",
    "cogs.training",
    "cogs.template",
    "cogs.review",
    "cogs.gateway",
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
            # Sheets, file names and error texts are user data: none of it may ping anyone.
            # The few messages meant to notify someone name that user explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.services = services
        self.scheduler = scheduler
        self.server_gate = ServerGate(settings.guild_id)

    async def setup_hook(self) -> None:
        # Before the extensions: their commands' texts are catalogue messages (bot/translator.py).
        await self.tree.set_translator(CatalogueTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self._sync_commands()

    async def _sync_commands(self) -> None:
        guild_ids = self.settings.guild_id
        if not guild_ids:
            # Commands show everywhere but are refused (ServerGate) with the id to add.
            synced = await self.tree.sync()
            log.warning(
                "GUILD_ID is not set: synced %d app commands globally, and every server is "
                "refused until its id is in GUILD_ID",
                len(synced),
            )
            return
        for guild_id in guild_ids:
            self.tree.copy_global_to(guild=discord.Object(id=guild_id))
        # An earlier run without GUILD_ID left global commands in every server: remove them.
        self.tree.clear_commands(guild=None)
        for guild_id in guild_ids:
            synced = await self.tree.sync(guild=discord.Object(id=guild_id))
            log.info("synced %d app commands to server %d", len(synced), guild_id)
        await self.tree.sync()

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
    """Admits only the allowed servers, and is the one error handler: every command error
    becomes a clear, ephemeral message."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await self.client.server_gate.admit(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        language = reply_language(interaction)
        if (
            isinstance(error, app_commands.TransformerError)
            and user_message(original, language) is None
        ):
            message = text("error.option_not_understood", language, value=repr(error.value))
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            message = explain(original, f"in /{name}", language)
        await send_ephemeral(interaction, message)
