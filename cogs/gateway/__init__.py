"""/robot-key and /try: robots that talk to kobo, and staff trying a model first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.gateway._cog import RobotChat

if TYPE_CHECKING:
    from bot.client import KoboBot


async def setup(bot: KoboBot) -> None:
    await bot.add_cog(RobotChat(bot))
