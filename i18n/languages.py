"""Which language to speak: kobo's languages, and choosing one from Discord, a setting or LANG."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal, get_args

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
# Discord shows a command's default texts to every locale without a translation, and most of
# the world reads English more readily than Japanese.
FALLBACK_LANGUAGE: Language = "en"

# gettext ignores LANGUAGE in these locales: their output is fixed by POSIX, and scripts set
# LC_ALL=C to get exactly that.
_C_LOCALES = frozenset({"C", "POSIX"})


def language_of(tag: str | None) -> Language | None:
    """The language of a locale tag kobo speaks, or None.

    Takes Discord's tags ("ja", "en-US") and POSIX locale names ("ja_JP.UTF-8", "en_GB@euro").
    """
    if not tag:
        return None
    language = re.split(r"[-_.@]", tag.strip(), maxsplit=1)[0].lower()
    return language if language in LANGUAGES else None  # type: ignore[return-value]


def language_from_discord(locale: str | None) -> Language:
    """The language for someone whose Discord is set to ``locale`` (``interaction.locale.value``,
    ``guild.preferred_locale.value``): Japanese for "ja", English for every other locale."""
    return language_of(locale) or FALLBACK_LANGUAGE


def choose_language(setting: Language | None, discord_locale: str | None) -> Language:
    """The ``LANGUAGE`` setting when one is set, else the reader's Discord locale."""
    return setting or language_from_discord(discord_locale)


def language_from_env(environ: Mapping[str, str] = os.environ) -> Language:
    """The language for the command line, chosen from the environment the way gettext does.

    The locale is the first of LC_ALL, LC_MESSAGES, LANG that is set; in the C locale the answer
    is English. Otherwise LANGUAGE, when set, lists the languages to try in order ("ja:en"),
    else the locale names the language ("ja_JP.UTF-8" gives Japanese).
    """
    locale = next(
        (environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), ""
    )
    if locale in _C_LOCALES:
        return FALLBACK_LANGUAGE
    wanted = environ["LANGUAGE"].split(":") if environ.get("LANGUAGE") else [locale]
    return next((found for tag in wanted if (found := language_of(tag))), FALLBACK_LANGUAGE)
