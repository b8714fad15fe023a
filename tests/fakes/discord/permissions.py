"""Discord permission bits and the guild-level permission computation.

Implemented: owner gets everything, ADMINISTRATOR gets everything, otherwise the OR of
@everyone and the member's roles. Not implemented: channel permission overwrites and
timeouts (the fake's channels have no overwrites).
"""

from __future__ import annotations

from collections.abc import Iterable

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38

# Every permission bit discord.py 2.7 knows (discord.Permissions.all().value); kept as a
# literal so the fake does not take its notion of "all" from the library under test.
ALL_PERMISSIONS = 8_866_461_766_385_663

# What a fresh guild's @everyone role allows in Discord's default settings.
EVERYONE_DEFAULT = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)

# The bot's managed role: what an invite link with typical bot scopes grants.
BOT_DEFAULT = EVERYONE_DEFAULT | MANAGE_MESSAGES


def compute_permissions(*, is_owner: bool, role_permissions: Iterable[int]) -> int:
    """Guild-level permissions of a member, the way Discord computes them."""
    if is_owner:
        return ALL_PERMISSIONS
    combined = 0
    for bits in role_permissions:
        combined |= bits
    if combined & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return combined


def has_all(granted: int, required: int) -> bool:
    """True when every bit of ``required`` is present in ``granted`` (admins pass)."""
    if granted & ADMINISTRATOR:
        return True
    return granted & required == required
