"""Who may run staff commands.

Staff commands are hidden from members without Manage Server (``default_permissions``), which
a server can widen in Server Settings → Integrations; the runtime check below is what counts.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import NotInGuild, NotStaff
from config import Settings


def is_staff(member: discord.Member, settings: Settings) -> bool:
    if settings.staff_manage_guild and member.guild_permissions.manage_guild:
        return True
    wanted = (settings.staff_role or "").strip()
    if not wanted:
        return False
    return any(
        str(role.id) == wanted or role.name.casefold() == wanted.casefold() for role in member.roles
    )


def staff_only():
    """``@staff_only()`` on an app command: hidden by default from members without Manage
    Server, and anyone who is not staff is refused before it runs."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if not isinstance(interaction.user, discord.Member):
            raise NotInGuild()
        if not is_staff(interaction.user, interaction.client.settings):
            raise NotStaff(interaction.command.qualified_name if interaction.command else "this")
        return True

    check = app_commands.check(predicate)
    hide = app_commands.default_permissions(manage_guild=True)

    def decorator(func):
        return hide(check(func))

    return decorator
