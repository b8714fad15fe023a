"""Japanese and English for command descriptions, option descriptions and choice names.

Write them with :func:`localized` instead of a plain string::

    @app_commands.command(name="jobs", description=localized("command.jobs.description"))
    @app_commands.describe(page=localized("command.jobs.option.page"))

and set :class:`CatalogueTranslator` on the tree before syncing. Discord then shows each person
the text in their own Discord language; locales kobo does not speak see the English default.
Command and option names stay plain strings, never translated: staff type them and the README
documents them, so they must not change with the reader's language.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import discord
from discord import app_commands

from i18n import FALLBACK_LANGUAGE, Language, load_catalogues, text

# The Discord locales that get a translation; Discord shows the default text to all others.
DISCORD_LANGUAGES: dict[discord.Locale, Language] = {
    discord.Locale.japanese: "ja",
    discord.Locale.american_english: "en",
    discord.Locale.british_english: "en",
}


def localized(key: str) -> app_commands.locale_str:
    """A catalogue message for a command's metadata: its English text is Discord's default."""
    return app_commands.locale_str(text(key, FALLBACK_LANGUAGE), key=key)


def localized_choices(group: str, values: Iterable[str]) -> list[app_commands.Choice[str]]:
    """One choice per value, named by the catalogue key ``choice.<group>.<value>``."""
    return [
        app_commands.Choice(name=localized(f"choice.{group}.{value}"), value=value)
        for value in values
    ]


class CatalogueTranslator(app_commands.Translator):
    """Translates each :func:`localized` string from kobo's message catalogues."""

    async def load(self) -> None:
        # Reading the .po files is file I/O: keep it off the event loop.
        await asyncio.to_thread(load_catalogues)

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        language = DISCORD_LANGUAGES.get(locale)
        if key is None or language is None:
            return None
        return text(key, language)
