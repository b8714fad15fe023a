"""Interactions the fake sends to the bot, and what the bot answered to each.

A ``FakeInteraction`` is the test's handle on one user action (slash command, autocomplete,
button press, modal submit). The REST side fills it in as the bot calls back:
initial callback (types 4-9), ``@original`` edits/deletes and followups.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord import permissions as perms
from tests.fakes.discord.models import DM_CHANNEL, FakeChannel, FakeGuild, FakeMember, FakeMessage
from tests.fakes.discord.signals import ChangeSignal
from tests.fakes.discord.snowflakes import new_snowflake

APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Callback (response) types, InteractionResponseType in Discord's docs.
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # what a guild without boosts allows

# Interaction context types.
CONTEXT_GUILD = 0
CONTEXT_BOT_DM = 1

_KIND_NAMES = {
    APPLICATION_COMMAND: "slash command",
    MESSAGE_COMPONENT: "component",
    AUTOCOMPLETE: "autocomplete",
    MODAL_SUBMIT: "modal submit",
}


@dataclass(eq=False)
class FakeInteraction:
    """One interaction delivered to the bot and everything the bot did in reply."""

    type: int
    user: FakeMember
    channel: FakeChannel
    data: dict[str, Any]
    signal: ChangeSignal
    default_timeout: float
    source_message: FakeMessage | None = None  # the message a component sat on
    locale: str = "en-US"  # the user's Discord language, sent with the interaction
    id: int = field(default_factory=new_snowflake)
    token: str = field(default_factory=lambda: "fake-interaction-" + secrets.token_urlsafe(24))
    created_at: float = 0.0  # event-loop time when sent; the 3 s callback deadline counts from it
    callback_type: int | None = None
    callback_data: dict[str, Any] | None = None
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    autocomplete_choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    rejected_callbacks: list[str] = field(default_factory=list)
    _touched: list[FakeMessage] = field(default_factory=list)

    @property
    def in_dm(self) -> bool:
        return self.channel.type == DM_CHANNEL

    @property
    def guild(self) -> FakeGuild | None:
        """The guild it happened in; None in a DM (``user`` is then just a person)."""
        return None if self.in_dm else self.user.guild

    @property
    def guild_id(self) -> int | None:
        return None if self.guild is None else self.guild.id

    @property
    def kind(self) -> str:
        return _KIND_NAMES.get(self.type, str(self.type))

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def deferred(self) -> bool:
        return self.callback_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE)

    @property
    def responses(self) -> list[FakeMessage]:
        """Messages this interaction produced that the user can see, oldest first."""
        shown = []
        if self.original is not None and self.original is not self.source_message:
            shown.append(self.original)
        shown.extend(self.followups)
        return [m for m in shown if not m.deleted and not m.loading]

    @property
    def final_message(self) -> FakeMessage | None:
        """The message most recently created or edited by this interaction's responses."""
        live = [m for m in self._touched if not m.deleted]
        return live[-1] if live else None

    def touched(self, message: FakeMessage) -> None:
        """Record that the bot created or edited ``message`` as part of answering."""
        if not message.loading:
            self._touched.append(message)

    def describe(self) -> str:
        lines = [
            f"{self.kind} interaction {self.id} by {self.user.name}: callback={self.callback_type}"
        ]
        if self.rejected_callbacks:
            lines.append(f"  rejected callbacks: {self.rejected_callbacks}")
        for message in ([self.original] if self.original else []) + self.followups:
            state = "deleted" if message.deleted else ("loading" if message.loading else "shown")
            lines.append(f"  message {message.id} [{state}] {message.text!r}")
        return "\n".join(lines)

    async def wait_for(self, check: Any, *, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - a per-wait timeout reads best in tests
        """Wait until ``check(self)`` is truthy and return its value."""
        return await self.signal.wait_for(
            lambda: check(self), timeout=timeout or self.default_timeout, describe=self.describe
        )

    async def wait_callback(self, *, timeout: float | None = None) -> int:  # noqa: ASYNC109 - a per-wait timeout reads best in tests
        """Wait for the initial callback and return its type (4, 5, 6, 7, 8 or 9)."""
        return await self.wait_for(lambda i: i.callback_type, timeout=timeout)

    async def wait_response(self, *, timeout: float | None = None) -> FakeMessage:  # noqa: ASYNC109 - a per-wait timeout reads best in tests
        """The first message the user sees: the initial reply, or after a defer the
        first edit/followup (or, for a component, the updated message)."""
        return await self.wait_for(lambda i: i._touched[0] if i._touched else None, timeout=timeout)

    async def wait_responses(
        self,
        count: int,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-wait timeout reads best in tests
    ) -> list[FakeMessage]:
        """Wait until ``count`` visible messages exist (original + followups)."""
        return await self.wait_for(
            lambda i: i.responses if len(i.responses) >= count else None, timeout=timeout
        )

    async def wait_modal(self, *, timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109 - a per-wait timeout reads best in tests
        """Wait for the bot to open a modal; returns its definition (title, custom_id, ...)."""
        return await self.wait_for(lambda i: i.modal, timeout=timeout)


def interaction_payload(
    interaction: FakeInteraction, *, application_id: int, bot_member: FakeMember, locale: str
) -> dict[str, Any]:
    """The INTERACTION_CREATE body, with the keys discord.py's Interaction reads."""
    channel_payload = interaction.channel.to_payload()
    channel_payload["permissions"] = str(interaction.user.permissions)
    payload: dict[str, Any] = {
        "id": str(interaction.id),
        "application_id": str(application_id),
        "type": interaction.type,
        "data": interaction.data,
        "channel": channel_payload,
        "channel_id": str(interaction.channel.id),
        "token": interaction.token,
        "version": 1,
        "app_permissions": str(bot_member.permissions),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    guild = interaction.guild
    if guild is None:
        # A DM with the bot: a plain user, no guild; "0" = installed to a guild, used in a DM.
        payload["user"] = interaction.user.user.to_payload()
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["context"] = CONTEXT_BOT_DM
    else:
        payload["guild"] = {"id": str(guild.id), "locale": guild.locale, "features": []}
        payload["guild_id"] = str(guild.id)
        payload["guild_locale"] = guild.locale
        payload["member"] = interaction.user.to_payload(with_permissions=True)
        payload["authorizing_integration_owners"] = {"0": str(guild.id)}
        payload["context"] = CONTEXT_GUILD
    if interaction.source_message is not None:
        payload["message"] = interaction.source_message.to_payload()
    return payload


def check_contexts(command: dict[str, Any], *, in_dm: bool) -> None:
    """Refuse like the Discord client does: guild-only commands are not offered in DMs."""
    if not in_dm:
        return
    contexts = command.get("contexts")
    allowed = CONTEXT_BOT_DM in contexts if contexts else command.get("dm_permission", True)
    if not allowed:
        raise PermissionError(f"Discord does not offer /{command['name']} in direct messages")


def check_default_permissions(
    command: dict[str, Any], member: FakeMember, allowed_roles: set[int] | None = None
) -> None:
    """Refuse like Discord does when a member lacks a command's default_member_permissions.

    ``allowed_roles``: roles a server admin let use the command in Server Settings →
    Integrations (the command's own overrides, else the app's); they take precedence.
    """
    required = command.get("default_member_permissions")
    if required is None:
        return
    member_roles = {member.guild.id, *(r.id for r in member.roles)}  # @everyone's id = guild's
    if allowed_roles and member_roles & allowed_roles:
        return
    granted = member.permissions
    # "0" means "nobody but administrators" in Discord's permission model.
    allowed = (
        perms.has_all(granted, int(required))
        if int(required)
        else perms.has_all(granted, perms.ADMINISTRATOR)
    )
    if not allowed:
        raise PermissionError(
            f"Discord hides /{command['name']} from {member.name}: it needs permission bits "
            f"{required} (default_member_permissions) and {member.name} has {member.permissions}"
        )
