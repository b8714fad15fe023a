"""Application commands the bot registered (global and per guild).

Implements bulk overwrite (what ``CommandTree.sync`` uses), list, create, edit and delete.
Ids stay stable for a command name across re-syncs, like Discord. Validates what Discord
rejects with 50035: description length (1-100 for slash commands), more than 25 options
or choices, a required option after an optional one.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.discord.messages import DiscordApiError, invalid_form
from tests.fakes.discord.snowflakes import new_snowflake

CHAT_INPUT = 1
_SUBCOMMAND_TYPES = (1, 2)


class CommandRegistry:
    """Synced commands keyed by guild id (``None`` for global commands)."""

    def __init__(self, application_id: int) -> None:
        self.application_id = application_id
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self._ids: dict[tuple[int | None, str, int], int] = {}

    def list(self, guild_id: int | None) -> list[dict[str, Any]]:
        return copy.deepcopy(self._commands.get(guild_id, []))

    def find(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        """A chat-input command by name: the guild's own first, then the global one."""
        for scope in (guild_id, None):
            for command in self._commands.get(scope, []):
                if command["name"] == name and command.get("type", CHAT_INPUT) == CHAT_INPUT:
                    return command
        return None

    def names(self, guild_id: int | None) -> list[str]:
        scopes = {guild_id, None}
        return sorted(c["name"] for scope in scopes for c in self._commands.get(scope, []))

    def overwrite(self, guild_id: int | None, payload: Any) -> list[dict[str, Any]]:
        if not isinstance(payload, list):
            raise invalid_form("_root", "LIST_TYPE_CONVERT", "Must be a list of commands.")
        stored = [self._store(guild_id, body, index) for index, body in enumerate(payload)]
        self._commands[guild_id] = stored
        return copy.deepcopy(stored)

    def create(self, guild_id: int | None, body: Any) -> dict[str, Any]:
        command = self._store(guild_id, body, 0)
        rest = [c for c in self._commands.get(guild_id, []) if c["id"] != command["id"]]
        self._commands[guild_id] = [*rest, command]
        return copy.deepcopy(command)

    def get(self, guild_id: int | None, command_id: int) -> dict[str, Any]:
        for command in self._commands.get(guild_id, []):
            if int(command["id"]) == command_id:
                return command
        raise DiscordApiError(404, 10063, "Unknown application command")

    def edit(self, guild_id: int | None, command_id: int, body: dict[str, Any]) -> dict[str, Any]:
        command = self.get(guild_id, command_id)
        merged = {**command, **body}
        return self.create(guild_id, merged)

    def delete(self, guild_id: int | None, command_id: int) -> None:
        command = self.get(guild_id, command_id)
        self._commands[guild_id] = [c for c in self._commands[guild_id] if c is not command]

    def _store(self, guild_id: int | None, body: Any, index: int) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("name"):
            raise invalid_form(f"{index}.name", "BASE_TYPE_REQUIRED", "This field is required")
        kind = int(body.get("type", CHAT_INPUT))
        if kind == CHAT_INPUT:
            _check_description(f"{index}", body.get("description"))
            _check_options(f"{index}.options", body.get("options") or [])
        key = (guild_id, body["name"], kind)
        command_id = self._ids.setdefault(key, new_snowflake())
        stored = copy.deepcopy(body)
        permissions = stored.get("default_member_permissions")
        stored.update(
            id=str(command_id),
            application_id=str(self.application_id),
            version=str(new_snowflake()),
            type=kind,
            options=stored.get("options") or [],
            # Discord answers the permission bit set as a string, whatever the bot sent.
            default_member_permissions=None if permissions is None else str(permissions),
            nsfw=bool(stored.get("nsfw", False)),
        )
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored


def _check_description(where: str, description: Any) -> None:
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        raise invalid_form(
            f"{where}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )


def _check_options(where: str, options: list[dict[str, Any]]) -> None:
    if len(options) > 25:
        raise invalid_form(where, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    for index, option in enumerate(options):
        path = f"{where}.{index}"
        _check_description(path, option.get("description"))
        if option.get("type") in _SUBCOMMAND_TYPES:
            _check_options(f"{path}.options", option.get("options") or [])
            continue
        if len(option.get("choices") or []) > 25:
            raise invalid_form(
                f"{path}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        if option.get("required"):
            if seen_optional:
                raise invalid_form(
                    f"{path}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
