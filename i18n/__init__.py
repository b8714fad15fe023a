"""Every text kobo shows, in Japanese and English (Discord-free: the bot, engines and CLI use it).

Adding a message
    Pick a key that says where the text belongs (``sheet.cell_empty``, ``command.jobs.description``)
    and add it to the same file of both catalogues: each part of kobo has its own file
    (``i18n/locales/en/LC_MESSAGES/augment.po`` and ``i18n/locales/ja/LC_MESSAGES/augment.po``;
    ``kobo.po`` holds what the parts share)::

        msgid "sheet.cell_empty"
        msgstr "{cell}: the {column_title} cell is empty; fill it in and send the file again."

    The msgid is the key, never English text, so each file is a real translation and the two
    can be compared. Values go in named ``{placeholders}`` (``str.format`` syntax, plain names
    only) and both languages use the same ones; ``tests/i18n/test_catalogue.py`` fails when a
    key is missing or empty in either language, when the placeholders differ, or when an entry
    is fuzzy. Japanese is polite (です・ます) and says what to do next. The files are read at
    run time with Babel; there is no compile step. Then, in code::

        text("sheet.cell_empty", language, cell=cell_name(3, 2, language), column_title=...)

    An unknown key, or params that do not match the placeholders, raise: they are bugs.

    Code that does not know who will read the text (the engines) returns or raises a
    :class:`Message` instead (``msg("sheet.cell_empty", cell=cell(3, 2), ...)``; errors are
    :class:`LocalizedError`), and the cog or CLI that knows the reader renders it with
    ``message.render(language)``.

Choosing the language
    - A reply to one person: their Discord language,
      ``language_from_discord(interaction.locale.value)``.
    - A message to the channel (job notices): the server's,
      ``language_from_discord(guild.preferred_locale.value)``.
    - The ``KOBO_LANGUAGE`` setting (ja / en / unset) overrides both:
      ``choose_language(settings.language, locale)``.
    - The command line: ``language_from_env()`` reads LC_ALL / LC_MESSAGES / LANG / LANGUAGE as
      gettext does (``LANG=ja_JP.UTF-8`` gives Japanese, ``LC_ALL=C`` English).
    Anything kobo does not speak gets English.

Command descriptions, option descriptions and choice names go through discord.py's translator:
see :mod:`bot.translator`.
"""

from i18n.catalogue import (
    CatalogueError,
    MessageParamsError,
    UnknownMessage,
    load_catalogues,
    text,
)
from i18n.languages import (
    FALLBACK_LANGUAGE,
    LANGUAGES,
    Language,
    choose_language,
    language_from_discord,
    language_from_env,
    language_of,
)
from i18n.message import LocalizedError, Message, msg
from i18n.places import cell, column, column_letters, row

__all__ = [
    "FALLBACK_LANGUAGE",
    "LANGUAGES",
    "CatalogueError",
    "Language",
    "LocalizedError",
    "Message",
    "MessageParamsError",
    "UnknownMessage",
    "cell",
    "choose_language",
    "column",
    "column_letters",
    "language_from_discord",
    "language_from_env",
    "language_of",
    "load_catalogues",
    "msg",
    "row",
    "text",
]
