"""Buttons and forms of the training feature."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.allowed_servers import KoboModal, KoboView, admit
from bot.checks import is_staff
from bot.errors import explain
from bot.language import reply_language
from bot.replies import send_ephemeral
from cogs.robots._render import change_message
from i18n import FALLBACK_LANGUAGE, Language, LocalizedError, msg, text

if TYPE_CHECKING:
    from bot.client import KoboBot

log = logging.getLogger(__name__)

PREVIEW_TIMEOUT_SECONDS = 600


class StartOrCancel(KoboView):
    """Under a /train preview: only the staff member who asked may press, until it expires."""

    def __init__(
        self,
        owner: discord.abc.User,
        origin: discord.Interaction,
        start: Callable[[discord.Interaction], Awaitable[None]],
        timeout: float = PREVIEW_TIMEOUT_SECONDS,
    ):
        super().__init__(timeout=timeout)
        self.owner = owner
        self.origin = origin
        self._start = start
        self.language = reply_language(origin)  # the preview's, for its buttons and expiry
        self.start_button.label = text("training.button.start", self.language)
        self.cancel_button.label = text("training.button.cancel", self.language)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not await super().interaction_check(interaction):
            return False
        if interaction.user.id != self.owner.id:
            await send_ephemeral(
                interaction,
                text(
                    "training.preview.not_yours",
                    reply_language(interaction),
                    name=self.owner.display_name,
                ),
            )
            return False
        return True

    @discord.ui.button(label="Start", style=discord.ButtonStyle.success)
    async def start_button(self, interaction: discord.Interaction, _button: discord.ui.Button):
        self.stop()
        await interaction.response.edit_message(
            content=text("training.preview.starting", reply_language(interaction)), view=None
        )
        await self._start(interaction)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel_button(self, interaction: discord.Interaction, _button: discord.ui.Button):
        self.stop()
        await interaction.response.edit_message(
            content=text("training.preview.cancelled", reply_language(interaction)),
            embed=None,
            view=None,
        )

    async def on_timeout(self) -> None:
        try:
            await self.origin.edit_original_response(
                content=text("training.preview.expired", self.language), view=None
            )
        except discord.HTTPException:
            log.debug("could not mark an expired /train preview", exc_info=True)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        language = reply_language(interaction)
        message = explain(error, "starting a fine-tune", language)
        await interaction.edit_original_response(
            content=text("training.preview.not_started", language, reason=message), view=None
        )


class AssignFineTune(
    discord.ui.DynamicItem[discord.ui.Button], template=r"kobo:assign-ft:(?P<job_id>[\w.-]+)"
):
    """ "Assign to a robot…" under a success notice; works after restarts (dynamic item)."""

    def __init__(self, job_id: str, language: Language = FALLBACK_LANGUAGE):
        # The label shows only when posted (in the channel's language); a click rebuilds the
        # item from its custom id alone.
        super().__init__(
            discord.ui.Button(
                label=text("training.button.assign", language),
                style=discord.ButtonStyle.primary,
                custom_id=f"kobo:assign-ft:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> AssignFineTune:
        return cls(match["job_id"])

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # discord.py builds this item's view itself, so the server check is called here.
        if not await admit(interaction):
            return False
        bot: KoboBot = interaction.client  # type: ignore[assignment]
        if not isinstance(interaction.user, discord.Member) or not is_staff(
            interaction.user, bot.settings
        ):
            await send_ephemeral(
                interaction, text("training.assign.staff_only", reply_language(interaction))
            )
            return False
        return True

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: KoboBot = interaction.client  # type: ignore[assignment]
        language = reply_language(interaction)
        details = await bot.services.finetune.get_job(self.job_id, events=0)
        if details is None or not details.job.fine_tuned_model:
            await send_ephemeral(
                interaction, text("training.assign.no_model", language, job=f"`{self.job_id}`")
            )
            return
        await interaction.response.send_modal(AssignModal(details.job.fine_tuned_model, language))


def assign_view(job_id: str, language: Language) -> discord.ui.View:
    view = KoboView(timeout=None)
    view.add_item(AssignFineTune(job_id, language))
    return view


class AssignModal(KoboModal):
    def __init__(self, model: str, language: Language):
        super().__init__(title=text("training.assign.title", language))
        self.stack_id: discord.ui.TextInput = discord.ui.TextInput(max_length=10)
        label = text("training.assign.robot_number", language)
        self.add_item(discord.ui.Label(text=label, component=self.stack_id))
        self.model = model

    async def on_submit(self, interaction: discord.Interaction) -> None:
        bot: KoboBot = interaction.client  # type: ignore[assignment]
        typed = self.stack_id.value.strip()
        if not typed.isdigit():
            raise LocalizedError(msg("training.assign.not_a_number", typed=typed))
        change = await bot.services.robots.assign(
            int(typed),
            self.model,
            by_id=str(interaction.user.id),
            by_name=interaction.user.display_name,
        )
        await interaction.response.send_message(
            change_message(change, bot.settings.default_model, reply_language(interaction))
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await send_ephemeral(
            interaction,
            explain(error, "assigning from a success notice", reply_language(interaction)),
        )
