"""Discord glue for /review; the decisions and the finishing are curation.review's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import staff_only
from bot.language import reply_language, server_language
from bot.replies import problems_replace_the_reply
from bot.translator import localized, localized_choices
from cogs.review._render import finished_text
from cogs.review._views import DYNAMIC_ITEMS, review_screen
from curation.review import UNDECIDED_CHOICES, finish
from curation.store import Person

if TYPE_CHECKING:
    from bot.client import KoboBot


class Review(commands.Cog):
    def __init__(self, bot: KoboBot):
        self.bot = bot

    async def cog_load(self) -> None:
        # Review messages outlive the process: their buttons are understood from their ids.
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @app_commands.command(name="review", description=localized("command.review.description"))
    @app_commands.describe(
        dataset=localized("command.review.option.dataset"),
        finish=localized("command.review.option.finish"),
        undecided=localized("command.review.option.undecided"),
    )
    @app_commands.choices(undecided=localized_choices("undecided", UNDECIDED_CHOICES))
    @app_commands.guild_only()
    @staff_only()
    async def review(
        self,
        interaction: discord.Interaction,
        dataset: app_commands.Range[int, 1],
        finish: bool = False,
        undecided: str = "drop",
    ):
        if finish:
            await interaction.response.defer(thinking=True)
            async with problems_replace_the_reply(interaction, "in /review finish"):
                finished = await _finish(self.bot, dataset, undecided, interaction.user)
                await interaction.edit_original_response(
                    content=finished_text(finished, reply_language(interaction))
                )
            return
        # Everyone in the channel reviews on this message: it speaks the server's language.
        language = server_language(self.bot.settings, interaction.guild)
        embed, view = await review_screen(self.bot, dataset, 1, language)
        await interaction.response.send_message(embed=embed, view=view)


async def _finish(bot: KoboBot, dataset: int, undecided: str, user: discord.abc.User):
    by = Person(str(user.id), user.display_name)
    return await finish(bot.services.store, dataset, "keep" if undecided == "keep" else "drop", by)
