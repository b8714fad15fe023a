"""A text to show someone, before it is put into a language.

Engines (augment, finetune, robots) know *what* to say but not to whom: a sheet problem is read
by a teacher in a Japanese Discord, the same problem by a host in an English shell. So they
say it as a :class:`Message` (a catalogue key and its values) and the edge that knows the
reader (a cog, the CLI) renders it. A value may itself be a Message, rendered in the same
language (``i18n.cell(3, 2)`` inside a sheet problem gives "3行目 B列" or "row 3, column B").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from i18n.catalogue import text
from i18n.languages import FALLBACK_LANGUAGE, Language


@dataclass(frozen=True, slots=True)
class Message:
    """The catalogue message ``key`` with ``params`` for its placeholders."""

    key: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def render(self, language: Language) -> str:
        values = {
            name: value.render(language) if isinstance(value, Message) else value
            for name, value in self.params.items()
        }
        return text(self.key, language, **values)

    def __str__(self) -> str:
        return self.render(FALLBACK_LANGUAGE)


def msg(key: str, /, **params: object) -> Message:
    """``Message(key, params)``, written like a call of :func:`i18n.text` without the language."""
    return Message(key, MappingProxyType(params))


class LocalizedError(Exception):
    """An error whose text is a :class:`Message`: shown to the user in their language.

    ``str(error)`` is the English text (logs, and code that has no reader to ask).
    """

    def __init__(self, message: Message):
        super().__init__(message)
        self.message = message

    def render(self, language: Language) -> str:
        return self.message.render(language)

    def __str__(self) -> str:
        return self.message.render(FALLBACK_LANGUAGE)
