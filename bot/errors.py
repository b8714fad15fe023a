"""Errors a command may raise on purpose: their text is shown to the user as it is."""

from __future__ import annotations

from discord import app_commands


class UserFacingError(Exception):
    """A problem the user can fix; ``str(error)`` is the whole message they see."""


class NotStaff(app_commands.CheckFailure):
    def __init__(self, command: str):
        super().__init__(f"Only workshop staff can use /{command}.")


class NotInGuild(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("This command works only in the workshop's server.")
