"""/assign, /unassign and /stacks: which model each Stack-chan robot uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.robots._cog import Robots

if TYPE_CHECKING:
    from bot.client import KoboBot


async def setup(bot: KoboBot) -> None:
    await bot.add_cog(Robots(bot))
