"""/review: checking a dataset's augmented examples together, in the channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.review._cog import Review

if TYPE_CHECKING:
    from bot.client import KoboBot


async def setup(bot: KoboBot) -> None:
    await bot.add_cog(Review(bot))
