"""Long lists a page at a time, with ◀ ▶ buttons: /datasets, /jobs and /stacks.

A list is a :data:`PageSource`: an async function that loads and renders the page someone asked
for, in their language, clamped to the pages there are (:func:`page_window` does the counting).
:func:`send_pages` answers a command with its first page; the buttons turn pages for the
person who asked only, and go away when nobody has pressed them for a while.

Every page is loaded when it is shown, so a list that grew meanwhile shows its new rows and
its new number of pages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import discord

from bot.allowed_servers import KoboView
from bot.errors import explain
from bot.language import reply_language
from bot.replies import send_ephemeral
from i18n import Language, text

log = logging.getLogger(__name__)

# A click's interaction token edits the message for 15 minutes; the buttons expire sooner
# after the last click, so the last click's token can still take them off.
PAGES_TIMEOUT_SECONDS = 10 * 60

T = TypeVar("T")


@dataclass(frozen=True)
class PageWindow:
    """Which page is shown (counted from 1) of how many, and the rows it holds."""

    number: int
    count: int
    offset: int
    size: int

    def rows(self, items: Sequence[T]) -> Sequence[T]:
        """This page's part of ``items`` (a whole list loaded at once)."""
        return items[self.offset : self.offset + self.size]


def page_window(total: int, asked: int, size: int) -> PageWindow:
    """Page ``asked`` of ``total`` rows, ``size`` a page, moved to the first or last page when
    it is outside them; an empty list has one (empty) page."""
    count = max(1, math.ceil(total / size))
    number = min(max(asked, 1), count)
    return PageWindow(number=number, count=count, offset=(number - 1) * size, size=size)


@dataclass(frozen=True)
class Page:
    """One page as it is shown: its embed (the page number is added to the footer)."""

    embed: discord.Embed
    window: PageWindow


# (page asked for, reader's language) -> that page, or the nearest one there is.
PageSource = Callable[[int, Language], Awaitable[Page]]


async def send_pages(
    interaction: discord.Interaction,
    source: PageSource,
    *,
    first_page: int = 1,
    expire_after: float = PAGES_TIMEOUT_SECONDS,
) -> None:
    """Answer ``interaction`` with ``first_page`` of ``source``; ◀ ▶ when there are more."""
    language = reply_language(interaction)
    page = await source(first_page, language)
    embed = numbered(page, language)
    if page.window.count == 1:
        await interaction.response.send_message(embed=embed)
        return
    buttons = PageButtons(source, interaction, page.window, expire_after)
    await interaction.response.send_message(embed=embed, view=buttons)


def numbered(page: Page, language: Language) -> discord.Embed:
    """The page's embed with "page 2 / 5" first in its footer."""
    number = text("lists.page", language, page=page.window.number, pages=page.window.count)
    footer = page.embed.footer.text
    page.embed.set_footer(text=f"{number} · {footer}" if footer else number)
    return page.embed


class PageButtons(KoboView):
    """◀ ▶ under a list: only whoever asked for it turns its pages."""

    def __init__(
        self,
        source: PageSource,
        origin: discord.Interaction,
        window: PageWindow,
        timeout: float,
    ):
        super().__init__(timeout=timeout)
        self.source = source
        self.owner = origin.user
        self.page = window.number
        # The interaction that last showed a page: its token edits the message when the
        # buttons expire (the command's own token may be too old by then).
        self._latest = origin
        self._mark_ends(window)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not await super().interaction_check(interaction):
            return False
        if interaction.user.id != self.owner.id:
            owner = discord.utils.escape_markdown(self.owner.display_name)
            await send_ephemeral(
                interaction, text("lists.not_yours", reply_language(interaction), owner=owner)
            )
            return False
        return True

    @discord.ui.button(label="◀", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction, _button: discord.ui.Button):
        await self._turn_to(interaction, self.page - 1)

    @discord.ui.button(label="▶", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction, _button: discord.ui.Button):
        await self._turn_to(interaction, self.page + 1)

    async def _turn_to(self, interaction: discord.Interaction, asked: int) -> None:
        language = reply_language(interaction)
        page = await self.source(asked, language)
        self.page = page.window.number
        self._mark_ends(page.window)
        self._latest = interaction
        await interaction.response.edit_message(embed=numbered(page, language), view=self)

    def _mark_ends(self, window: PageWindow) -> None:
        self.previous_page.disabled = window.number <= 1
        self.next_page.disabled = window.number >= window.count

    async def on_timeout(self) -> None:
        # The list stays as it is; only the buttons that no longer work go.
        try:
            await self._latest.edit_original_response(view=None)
        except discord.HTTPException:
            log.debug("could not take the page buttons off an expired list", exc_info=True)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item
    ) -> None:
        message = explain(error, "turning a page", reply_language(interaction))
        await send_ephemeral(interaction, message)
