"""Errors a command may raise on purpose, and how any error is put into words for the user.

Slash commands, buttons and forms all render errors through :func:`user_message`, so a given
problem reads the same wherever it happens.
"""

from __future__ import annotations

import logging

from discord import app_commands

from augment.errors import AugmentError
from finetune.service import FineTuningError, FineTuningUnavailable
from robots.model_ids import InvalidModelId
from robots.stack_ids import InvalidStackId

log = logging.getLogger(__name__)

UNEXPECTED_ERROR_MESSAGE = "Something went wrong on my side; the details are in the bot's log."


class UserFacingError(Exception):
    """A problem the user can fix; ``str(error)`` is the whole message they see."""


class NotStaff(app_commands.CheckFailure):
    def __init__(self, command: str):
        super().__init__(f"Only workshop staff can use /{command}.")


class NotInGuild(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("This command works only in the workshop's server.")


# Errors whose text is meant for the user; anything else is a bug and gets logged.
USER_ERRORS: tuple[type[Exception], ...] = (
    UserFacingError,
    app_commands.CheckFailure,
    InvalidModelId,
    InvalidStackId,
    AugmentError,
    FineTuningUnavailable,
    FineTuningError,
)


def user_message(error: BaseException) -> str | None:
    """What to tell the user about ``error``, or None when it is a bug (log it, say sorry)."""
    if isinstance(error, InvalidModelId | InvalidStackId):
        return f"That does not work: {error}."
    if isinstance(error, USER_ERRORS):
        return str(error)
    return None


def explain(error: BaseException, context: str) -> str:
    """:func:`user_message`, or for a bug: log it with its traceback and apologise."""
    message = user_message(error)
    if message is None:
        log.error("unexpected error %s", context, exc_info=error)
        message = UNEXPECTED_ERROR_MESSAGE
    return message
