"""Which mentions Discord would resolve (and so notify) in a message the bot sends.

Discord's rules for ``allowed_mentions``: without the field, every mention in ``content`` is
parsed (``@everyone``, ``@here``, ``<@user>``, ``<@!user>``, ``<@&role>``); with it, only what
``parse`` ("everyone", "users", "roles") or the explicit ``users`` / ``roles`` id lists allow.
Embeds, file names and components never ping. ``parse: ["users"]`` together with a ``users``
list (likewise roles) is refused with 50035, as Discord does.

Deliberately strict: the bot's permissions (Mention Everyone) and a role's "mentionable" flag
are not modelled, so a mention counts as a ping whenever the payload lets Discord parse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_EVERYONE = re.compile(r"@(everyone|here)\b")
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_PARSE_TYPES = {"everyone", "users", "roles"}
MAX_IDS = 100


@dataclass(frozen=True)
class Pings:
    """Who a message would notify."""

    everyone: bool = False  # @everyone or @here
    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return self.everyone or bool(self.users) or bool(self.roles)


@dataclass(frozen=True)
class SentMentions:
    """One payload the bot sent with content: what it asked for and what Discord resolved."""

    action: str  # "create" or "edit"
    content: str
    allowed_mentions: dict[str, Any] | None
    pings: Pings


def allowed_mentions_problem(allowed: Any) -> tuple[str, str, str] | None:
    """(field, code, message) of the 50035 error Discord gives for ``allowed``, or None."""
    if allowed is None:
        return None
    if not isinstance(allowed, dict):
        return "allowed_mentions", "DICT_TYPE_CONVERT", "Must be an object."
    parse = allowed.get("parse") or []
    unknown = [p for p in parse if p not in _PARSE_TYPES]
    if unknown:
        return "allowed_mentions.parse", "ENUM_TYPE_COERCE", f"Value(s) {unknown} are not valid."
    for kind in ("users", "roles"):
        ids = allowed.get(kind) or []
        if kind in parse and ids:
            return (
                "allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        if len(ids) > MAX_IDS:
            return (
                f"allowed_mentions.{kind}",
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_IDS} or fewer in length.",
            )
    return None


def resolve_pings(content: str, allowed: dict[str, Any] | None) -> Pings:
    """The mentions in ``content`` that Discord would resolve under ``allowed``."""
    users = {int(m) for m in _USER.findall(content)}
    roles = {int(m) for m in _ROLE.findall(content)}
    everyone = bool(_EVERYONE.search(content))
    if allowed is None:
        return Pings(everyone, frozenset(users), frozenset(roles))
    parse = set(allowed.get("parse") or [])
    if "users" not in parse:
        users &= {int(i) for i in allowed.get("users") or []}
    if "roles" not in parse:
        roles &= {int(i) for i in allowed.get("roles") or []}
    return Pings("everyone" in parse and everyone, frozenset(users), frozenset(roles))
