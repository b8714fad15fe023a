"""/template: the workshop's sheet template, to fill in and send to /augment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.template._cog import Template

if TYPE_CHECKING:
    from bot.client import KoboBot


async def setup(bot: KoboBot) -> None:
    await bot.add_cog(Template(bot))
