"""The message catalogues: gettext .po files with symbolic message ids, read once with Babel.

Each message is a ``str.format`` template with named placeholders, e.g.
``"{row}行目: アシスタントの欄が空です。"``. The .po files are read at run time (no compiled .mo
files), once per process, and kept. A language's messages are split into several files by
subject (``kobo.po`` for what every part shares, ``augment.po``, ``training.po``...), so that
each part's texts sit together; a key lives in exactly one of them.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType

from babel.messages.pofile import read_po

from i18n.languages import LANGUAGES, Language


class CatalogueError(Exception):
    """A .po file kobo cannot use as it is (a bug in the file, found when it is read)."""


class UnknownMessage(KeyError):
    """No message has this key: the code asks for a message the catalogues do not have."""


class MessageParamsError(TypeError):
    """The values given do not match the message's placeholders (like a call with wrong kwargs)."""


def catalogue_files(language: Language) -> list[Traversable]:
    """The .po files of ``language``, by name, wherever the package is installed."""
    folder = files("i18n") / "locales" / language / "LC_MESSAGES"
    return sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".po")),
        key=lambda entry: entry.name,
    )


@functools.cache
def messages(language: Language) -> Mapping[str, str]:
    """Every translated message of ``language``, by key; the file is read on first use only."""
    if language not in LANGUAGES:
        raise ValueError(f"kobo has no messages in {language!r}; it speaks {', '.join(LANGUAGES)}")
    return MappingProxyType(read_catalogues(catalogue_files(language), language))


def read_catalogues(sources: Iterable[Traversable], language: Language) -> dict[str, str]:
    """The messages of several .po files of one language; a key may be in only one of them."""
    found: dict[str, str] = {}
    where: dict[str, str] = {}
    for source in sources:
        for key, message in _read(source, language).items():
            if key in found:
                raise CatalogueError(f"{source}: {key!r} is in {where[key]} already")
            found[key], where[key] = message, source.name
    return found


def _read(source: Traversable, language: Language) -> dict[str, str]:
    with source.open("rb") as po_file:
        # abort_invalid: a broken line stops here instead of Babel printing a warning and
        # dropping the message.
        catalog = read_po(po_file, locale=language, domain=source.name[:-3], abort_invalid=True)
    found: dict[str, str] = {}
    for message in catalog:
        if not message.id:
            continue  # the header entry
        if message.pluralizable:
            raise CatalogueError(
                f"{source}, line {message.lineno}: plural forms (msgid_plural) are not supported; "
                "write the count into the sentence instead"
            )
        # Like msgfmt: a fuzzy or empty translation is not a translation.
        if message.string and not message.fuzzy:
            found[message.id] = message.string
    return found


def load_catalogues() -> None:
    """Read every catalogue now (e.g. in a worker thread at start-up), not on first use."""
    for language in LANGUAGES:
        messages(language)


@functools.cache
def placeholders(template: str) -> frozenset[str]:
    """The names of the ``{placeholders}`` in ``template``; only plain names are allowed."""
    names = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier():
            raise CatalogueError(f"placeholder {{{field}}} in {template!r} is not a plain name")
        names.add(field)
    return frozenset(names)


def text(key: str, language: Language, /, **params: object) -> str:
    """The message ``key`` in ``language``, its placeholders filled from ``params``.

    An unknown key or a wrong set of params raises: both are bugs in the calling code, and the
    bot's one error handler logs them and apologises like for any other bug.
    """
    template = messages(language).get(key)
    if template is None:
        raise UnknownMessage(f"no message {key!r} in the {language} catalogue")
    expected = placeholders(template)
    if expected != params.keys():
        raise MessageParamsError(
            f"message {key!r} takes {sorted(expected)}, was given {sorted(params)}"
        )
    return template.format_map(params)
