"""The review message's buttons and the edit form.

Every button is a dynamic item whose custom id carries the dataset, the page and (for a
decision) the example's line: a click is understood from the id alone, so a review message
keeps working after kobo restarts. The decisions are rows (storage.reviews); the message is
drawn again from them after each one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from typing import TYPE_CHECKING

import discord

from bot.allowed_servers import KoboModal, KoboView, admit
from bot.checks import is_staff
from bot.errors import explain
from bot.language import reply_language, server_language
from bot.paginator import page_window
from bot.replies import problems_replace_the_reply, send_ephemeral
from cogs.review._render import already_decided, finished_text, review_embed
from curation.review import (
    MAX_EDITED_LENGTH,
    Decision,
    Undecided,
    decide,
    finish,
    review_item,
    review_page,
    reviewable_dataset,
)
from curation.store import Person
from i18n import Language, text

if TYPE_CHECKING:
    from bot.client import KoboBot

log = logging.getLogger(__name__)

# Four examples of three buttons, and a row for ◀ ▶ and finishing: Discord's five rows.
REVIEW_PAGE_SIZE = 4
DECISION_STYLES = {
    "keep": discord.ButtonStyle.success,
    "drop": discord.ButtonStyle.danger,
    "edit": discord.ButtonStyle.secondary,
}
_DATASET = r"kobo:review:(?P<dataset>[0-9]{1,12})"

# One redraw at a time per review message: every redraw reads the decisions after its own was
# written, so the last edit Discord gets shows every decision.
_redraws: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


def _bot(interaction: discord.Interaction) -> KoboBot:
    return interaction.client  # type: ignore[return-value]


def _person(interaction: discord.Interaction) -> Person:
    return Person(str(interaction.user.id), interaction.user.display_name)


async def review_screen(
    bot: KoboBot, dataset_id: int, page: int, language: Language
) -> tuple[discord.Embed, discord.ui.View]:
    """The review message's embed and buttons for ``page`` (moved into the pages there are)."""
    store = bot.services.store
    dataset, tally = await reviewable_dataset(store, dataset_id)
    window = page_window(tally.reviewable, page, REVIEW_PAGE_SIZE)
    items, tally = await review_page(store, dataset_id, offset=window.offset, limit=window.size)
    view = KoboView(timeout=None)
    for row, item in enumerate(items):
        for decision in ("keep", "drop", "edit"):
            view.add_item(
                DecideButton(dataset_id, window.number, item.line, decision, language, row=row)
            )
    last_row = len(items)
    view.add_item(PageButton(dataset_id, window.number - 1, "◀", window.number > 1, last_row))
    view.add_item(
        PageButton(dataset_id, window.number + 1, "▶", window.number < window.count, last_row)
    )
    for undecided in ("keep", "drop"):
        view.add_item(FinishButton(dataset_id, undecided, language, row=last_row))
    return review_embed(dataset, items, tally, window, language), view


async def _redraw(interaction: discord.Interaction, dataset_id: int, page: int) -> None:
    """Answer ``interaction`` by drawing its review message again from the stored decisions."""
    message = interaction.message
    key = message.id if message is not None else 0
    async with _redraws[key]:
        language = server_language(_bot(interaction).settings, interaction.guild)
        embed, view = await review_screen(_bot(interaction), dataset_id, page, language)
        await interaction.response.edit_message(embed=embed, view=view)


async def _may_review(interaction: discord.Interaction) -> bool:
    """REVIEW_BY: staff (default) or everyone; anyone else is told so."""
    bot = _bot(interaction)
    if bot.settings.review_by == "everyone":
        return True
    if isinstance(interaction.user, discord.Member) and is_staff(interaction.user, bot.settings):
        return True
    await send_ephemeral(interaction, text("review.staff_only", reply_language(interaction)))
    return False


async def _tell_error(interaction: discord.Interaction, error: Exception, doing: str) -> None:
    # discord.py only logs what a dynamic item raises; the person is told here instead.
    await send_ephemeral(interaction, explain(error, doing, reply_language(interaction)))


class DecideButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=_DATASET + r":(?P<page>[0-9]{1,9}):(?P<line>[0-9]{1,9}):(?P<decision>keep|drop|edit)",
):
    """Keep, drop or edit one example."""

    def __init__(
        self,
        dataset_id: int,
        page: int,
        line: int,
        decision: Decision,
        language: Language = "en",
        row: int | None = None,
    ):
        super().__init__(
            discord.ui.Button(
                label=text(f"review.button.{decision}", language, line=line),
                style=DECISION_STYLES[decision],
                custom_id=f"kobo:review:{dataset_id}:{page}:{line}:{decision}",
                row=row,
            )
        )
        self.dataset_id, self.page, self.line, self.decision = dataset_id, page, line, decision

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> DecideButton:
        return cls(int(match["dataset"]), int(match["page"]), int(match["line"]), match["decision"])

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # discord.py builds this item's view itself, so the server check is called here.
        return await admit(interaction) and await _may_review(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            if self.decision == "edit":
                await self._open_form(interaction)
                return
            decided = await decide(
                _bot(interaction).services.store,
                self.dataset_id,
                self.line,
                self.decision,
                _person(interaction),
            )
            if not decided.recorded:
                language = reply_language(interaction)
                await send_ephemeral(interaction, already_decided(decided.decision, language))
                return
            await _redraw(interaction, self.dataset_id, self.page)
        except Exception as error:
            await _tell_error(interaction, error, "deciding a review example")

    async def _open_form(self, interaction: discord.Interaction) -> None:
        store = _bot(interaction).services.store
        language = reply_language(interaction)
        earlier = await store.reviews.get(self.dataset_id, self.line)
        if earlier is not None:
            await send_ephemeral(interaction, already_decided(earlier, language))
            return
        stored = await store.examples.get(self.dataset_id, self.line)
        sentence = review_item(stored, None).sentence if stored is not None else ""
        form = EditForm(self.dataset_id, self.page, self.line, sentence, language)
        await interaction.response.send_modal(form)


class EditForm(KoboModal):
    """The example's sentence, to correct. Sent from the review message: saving redraws it."""

    def __init__(self, dataset_id: int, page: int, line: int, sentence: str, language: Language):
        super().__init__(title=text("review.edit.title", language, line=line))
        self.sentence: discord.ui.TextInput = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            default=sentence[:MAX_EDITED_LENGTH],
            max_length=MAX_EDITED_LENGTH,
        )
        label = text("review.edit.label", language)
        self.add_item(discord.ui.Label(text=label, component=self.sentence))
        self.dataset_id, self.page, self.line = dataset_id, page, line

    async def on_submit(self, interaction: discord.Interaction) -> None:
        decided = await decide(
            _bot(interaction).services.store,
            self.dataset_id,
            self.line,
            "edit",
            _person(interaction),
            edited_text=self.sentence.value,
        )
        if not decided.recorded:
            language = reply_language(interaction)
            await send_ephemeral(interaction, already_decided(decided.decision, language))
            return
        await _redraw(interaction, self.dataset_id, self.page)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await _tell_error(interaction, error, "saving an edited review example")


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=_DATASET + r":page:(?P<page>[0-9]{1,9})",
):
    """◀ ▶: anyone may turn the shared review message's pages."""

    def __init__(
        self, dataset_id: int, page: int, label: str = "", enabled: bool = True, row: int = 4
    ):
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"kobo:review:{dataset_id}:page:{page}",
                disabled=not enabled,
                row=row,
            )
        )
        self.dataset_id, self.page = dataset_id, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> PageButton:
        return cls(int(match["dataset"]), int(match["page"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await admit(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await _redraw(interaction, self.dataset_id, self.page)
        except Exception as error:
            await _tell_error(interaction, error, "turning a review page")


class FinishButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=_DATASET + r":finish:(?P<undecided>keep|drop)",
):
    """Store the review as a new dataset; the undecided examples kept or dropped. Staff only."""

    def __init__(
        self, dataset_id: int, undecided: Undecided, language: Language = "en", row: int = 4
    ):
        super().__init__(
            discord.ui.Button(
                label=text(f"review.button.finish_{undecided}", language),
                style=discord.ButtonStyle.primary,
                custom_id=f"kobo:review:{dataset_id}:finish:{undecided}",
                row=row,
            )
        )
        self.dataset_id, self.undecided = dataset_id, undecided

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> FinishButton:
        return cls(int(match["dataset"]), match["undecided"])

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not await admit(interaction):
            return False
        bot = _bot(interaction)
        if isinstance(interaction.user, discord.Member) and is_staff(
            interaction.user, bot.settings
        ):
            return True
        await send_ephemeral(
            interaction, text("review.finish_staff_only", reply_language(interaction))
        )
        return False

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as error:
            await _tell_error(interaction, error, "finishing a review")
            return
        async with problems_replace_the_reply(interaction, "finishing a review"):
            store = _bot(interaction).services.store
            finished = await finish(store, self.dataset_id, self.undecided, _person(interaction))
            await interaction.edit_original_response(
                content=finished_text(finished, reply_language(interaction))
            )


DYNAMIC_ITEMS = (DecideButton, PageButton, FinishButton)
