"""Everything the fake Discord knows, shared by its REST API, gateway and test API.

Holds guilds, channels, messages, hosted files, synced commands, interactions and the
request log, and implements the channel-message rules: channel faults (unknown/forbidden)
and the ``nonce`` + ``enforce_nonce`` dedupe of "Create Message".
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from tests.fakes.discord.commands import CommandRegistry
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.messages import DiscordApiError, new_message
from tests.fakes.discord.models import (
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeUser,
    RecordedRequest,
)
from tests.fakes.discord.signals import ChangeSignal
from tests.fakes.discord.snowflakes import new_snowflake


class DiscordWorld:
    """The fake's state. Methods raise ``DiscordApiError`` where Discord answers an error."""

    def __init__(
        self,
        *,
        bot_name: str,
        bot_token: str,
        application_id: int | None,
        response_deadline: float | None,
        nonce_ttl: float,
    ) -> None:
        self.bot_user = FakeUser(name=bot_name, bot=True)
        self.bot_token = bot_token
        self.application_id = application_id or new_snowflake()
        self.response_deadline = response_deadline
        self.nonce_ttl = nonce_ttl
        self.base_url = ""
        self.guilds: list[FakeGuild] = []
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        self.hosted: dict[int, FakeFile] = {}
        self.commands = CommandRegistry(self.application_id)
        # Server Settings → Integrations: (guild id, command id or application id for "all
        # commands") -> roles allowed to use it whatever its default_member_permissions.
        self.command_overrides: dict[tuple[int, int], set[int]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.requests: list[RecordedRequest] = []
        self.unhandled: list[RecordedRequest] = []
        self.signal = ChangeSignal()
        self._nonces: dict[tuple[int, str], tuple[FakeMessage, float]] = {}

    # -- lookups -----------------------------------------------------------------------

    def guild(self, guild_id: int) -> FakeGuild:
        for guild in self.guilds:
            if guild.id == guild_id:
                return guild
        raise DiscordApiError(404, 10004, "Unknown Guild")

    def bot_member(self, guild: FakeGuild) -> FakeMember:
        member = guild.member(self.bot_user.id)
        assert member is not None, "every fake guild has the bot as a member"
        return member

    def channel(self, channel_id: int) -> FakeChannel:
        """A channel the bot may use, or the error Discord gives for it."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.fault == "unknown":
            raise DiscordApiError(404, 10003, "Unknown Channel")
        if channel.fault == "forbidden":
            raise DiscordApiError(403, 50013, "Missing Permissions")
        return channel

    def message(self, channel: FakeChannel, message_id: int) -> FakeMessage:
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel.id:
            raise DiscordApiError(404, 10008, "Unknown Message")
        return message

    def channel_messages(self, channel: FakeChannel) -> list[FakeMessage]:
        """What everyone in the channel sees: not deleted, not ephemeral, oldest first."""
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel.id and not m.deleted and not m.ephemeral and not m.loading
        ]

    def roles_allowed_to_use(self, command: dict[str, Any], guild_id: int) -> set[int]:
        """The command's own Integrations overrides in ``guild_id``, else the app's."""
        own = self.command_overrides.get((guild_id, int(command["id"])))
        if own is not None:
            return own
        return self.command_overrides.get((guild_id, self.application_id), set())

    # -- files ---------------------------------------------------------------------------

    def host_file(self, file: FakeFile, channel_id: int) -> None:
        """Serve ``file`` over HTTP like Discord's CDN, at a URL that includes the filename."""
        file.url = f"{self.base_url}/attachments/{channel_id}/{file.id}/{quote(file.filename)}"
        self.hosted[file.id] = file

    # -- channel messages ----------------------------------------------------------------

    def create_channel_message(
        self, channel: FakeChannel, body: dict[str, Any], uploads: dict[int, FakeFile]
    ) -> FakeMessage:
        """POST /channels/{id}/messages as the bot, honouring ``enforce_nonce``."""
        nonce = body.get("nonce")
        key = (self.bot_user.id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonces.get(key)
            if earlier is not None and time.monotonic() - earlier[1] <= self.nonce_ttl:
                if earlier[0].deleted:
                    raise DiscordApiError(404, 10008, "Unknown Message")
                return earlier[0]
        message = new_message(
            body,
            uploads,
            host=self.host_file,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.bot_user,
        )
        self.messages[message.id] = message
        if nonce is not None:
            self._nonces[key] = (message, time.monotonic())
        return message
