"""The fake Discord's world: users, guilds, roles, channels, members, files and messages.

Each model knows how to render itself as the JSON payload Discord REST v10 / the gateway
send, with exactly the keys discord.py 2.7 reads (see discord/member.py, role.py,
channel.py, message.py). Tests hold these objects and pass them back to the fake
(``user=alice``, ``channel=robots``); they are plain data, no I/O.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord import permissions as perms
from tests.fakes.discord.mentions import SentMentions
from tests.fakes.discord.snowflakes import iso_now, new_snowflake

EPHEMERAL_FLAG = 1 << 6
LOADING_FLAG = 1 << 7  # a deferred "Bot is thinking..." placeholder

TEXT_CHANNEL = 0
DM_CHANNEL = 1


@dataclass(eq=False)
class FakeUser:
    """A Discord user account (people and the bot itself)."""

    name: str
    bot: bool = False
    id: int = field(default_factory=new_snowflake)

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass(eq=False)
class FakeRole:
    """A guild role; ``permissions`` is the raw permission bit field."""

    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    id: int = field(default_factory=new_snowflake)

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeChannel:
    """A guild text channel, or a DM with the bot (``type`` DM_CHANNEL, no guild, a
    ``recipient``). ``fault`` makes REST calls on it fail (see FakeDiscord)."""

    guild_id: int | None
    name: str
    position: int = 0
    topic: str | None = None
    type: int = TEXT_CHANNEL
    fault: str | None = None  # None, "unknown" (404/10003) or "forbidden" (403/50013)
    recipient: FakeUser | None = None  # DMs only: the person the bot talks with
    id: int = field(default_factory=new_snowflake)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        if self.type == DM_CHANNEL:
            assert self.recipient is not None
            recipients = [self.recipient.to_payload()]
            return {"id": str(self.id), "type": DM_CHANNEL, "recipients": recipients, "flags": 0}
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "topic": self.topic,
            "nsfw": False,
            "parent_id": None,
            "permission_overwrites": [],
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeMember:
    """A user's membership of one guild, with roles; permissions are computed, not stored."""

    user: FakeUser
    guild: FakeGuild
    roles: list[FakeRole] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def mention(self) -> str:
        return self.user.mention

    @property
    def permissions(self) -> int:
        role_bits = [self.guild.everyone_role.permissions, *(r.permissions for r in self.roles)]
        return perms.compute_permissions(
            is_owner=self.guild.owner_id == self.user.id, role_permissions=role_bits
        )

    def to_payload(self, *, with_permissions: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "user": self.user.to_payload(),
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_permissions:
            payload["permissions"] = str(self.permissions)
        return payload


@dataclass(eq=False)
class FakeGuild:
    """A guild (server). Its @everyone role shares the guild's id, as in Discord."""

    name: str
    id: int = field(default_factory=new_snowflake)
    owner_id: int = 0
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)
    locale: str = "en-US"

    @property
    def everyone_role(self) -> FakeRole:
        return self.roles[0]

    @property
    def text_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels if c.type == TEXT_CHANNEL]

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.user.id == user_id), None)

    def to_payload(self) -> dict[str, Any]:
        """The full GUILD_CREATE body (an available guild with everything cached)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": self.locale,
            "system_channel_flags": 0,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [r.to_payload() for r in self.roles],
            "channels": [c.to_payload() for c in self.channels],
            "threads": [],
            "members": [m.to_payload() for m in self.members],
            "member_count": len(self.members),
            "large": False,
            "unavailable": False,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": iso_now(),
        }


@dataclass(eq=False)
class FakeFile:
    """Bytes with a filename: an uploaded attachment, or one a test offers as an option."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    id: int = field(default_factory=new_snowflake)
    url: str = ""  # set once the fake hosts it

    def __post_init__(self) -> None:
        if self.content_type is None:
            guessed, _ = mimetypes.guess_type(self.filename)
            self.content_type = guessed or "application/octet-stream"

    @property
    def name(self) -> str:
        return self.filename

    @property
    def size(self) -> int:
        return len(self.data)

    def text(self, encoding: str = "utf-8") -> str:
        return self.data.decode(encoding)

    def to_payload(self, *, ephemeral: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
            "flags": 0,
        }
        if self.description is not None:
            payload["description"] = self.description
        if ephemeral:
            payload["ephemeral"] = True
        return payload


def iter_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component in a message/modal tree: rows, sections, labels and their children."""
    for component in components:
        yield component
        yield from iter_components(component.get("components", []))
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from iter_components([child])


@dataclass(eq=False)
class FakeMessage:
    """A message as a Discord user would see it, kept current across edits."""

    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeFile] = field(default_factory=list)
    flags: int = 0
    nonce: str | None = None
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    id: int = field(default_factory=new_snowflake)
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    deleted: bool = False
    edit_count: int = 0
    sent_mentions: list[SentMentions] = field(default_factory=list)  # one per create/edit

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL_FLAG)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "thinking..." placeholder nobody filled in yet."""
        return bool(self.flags & LOADING_FLAG)

    @property
    def files(self) -> list[FakeFile]:
        return list(self.attachments)

    def file(self, filename: str) -> FakeFile:
        for attachment in self.attachments:
            if attachment.filename == filename:
                return attachment
        names = [a.filename for a in self.attachments]
        raise AssertionError(f"message {self.id} has no file {filename!r}; it has {names}")

    @property
    def text(self) -> str:
        """Everything readable: content plus embed titles, descriptions, fields and footers."""
        parts = [self.content] if self.content else []
        for embed in self.embeds:
            for key in ("title", "description"):
                if embed.get(key):
                    parts.append(str(embed[key]))
            for embed_field in embed.get("fields", []):
                parts.append(f"{embed_field.get('name', '')}: {embed_field.get('value', '')}")
            footer = embed.get("footer") or {}
            if footer.get("text"):
                parts.append(str(footer["text"]))
        for component in iter_components(self.components):
            if component.get("type") == 10 and component.get("content"):  # v2 text display
                parts.append(str(component["content"]))
        return "\n".join(parts)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in iter_components(self.components) if c.get("type") == 2]

    def component(self, custom_id: str) -> dict[str, Any] | None:
        return next(
            (c for c in iter_components(self.components) if c.get("custom_id") == custom_id),
            None,
        )

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.to_payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.to_payload(ephemeral=self.ephemeral) for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            payload["guild_id"] = str(self.guild_id)
        if self.nonce is not None:
            payload["nonce"] = self.nonce
        if self.webhook_id is not None:
            payload["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            payload["application_id"] = str(self.application_id)
        return payload


@dataclass
class RecordedRequest:
    """One REST call the client made, as the fake understood it (no auth header kept)."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    files: list[FakeFile]
    status: int = 0
    response: Any = None

    def __repr__(self) -> str:
        files = f" files={[f.filename for f in self.files]}" if self.files else ""
        return f"<{self.method} {self.path} -> {self.status}{files} json={self.json!r}>"
