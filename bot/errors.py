"""Errors a command may raise on purpose, and how any error is put into words for the user.

Slash commands, buttons and forms all render errors through :func:`user_message`, so a given
problem reads the same wherever it happens, in the reader's language: errors that carry a
catalogue :class:`~i18n.Message` (:class:`~i18n.LocalizedError`) are rendered in it.
"""

from __future__ import annotations

import logging

from discord import app_commands

from i18n import Language, LocalizedError, msg, text

log = logging.getLogger(__name__)


class NotStaff(LocalizedError, app_commands.CheckFailure):
    def __init__(self, command: str):
        super().__init__(msg("error.not_staff", command=command))


class NotInGuild(LocalizedError, app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__(msg("error.not_in_guild"))


def user_message(error: BaseException, language: Language) -> str | None:
    """What to tell the user about ``error``, or None when it is a bug (log it, say sorry).

    Every error kobo raises for the user (the engines' errors among them) is a
    :class:`LocalizedError`; discord.py's own check failures have English text only.
    """
    if isinstance(error, LocalizedError):
        return error.render(language)
    if isinstance(error, app_commands.CheckFailure):
        return str(error)
    return None


def explain(error: BaseException, context: str, language: Language) -> str:
    """:func:`user_message`, or for a bug: log it with its traceback and apologise."""
    message = user_message(error, language)
    if message is None:
        log.error("unexpected error %s", context, exc_info=error)
        message = text("error.unexpected", language)
    return message
