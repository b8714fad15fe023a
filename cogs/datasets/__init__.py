"""/augment and /datasets: sentence sheets in, stored fine-tuning datasets out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.datasets._cog import Datasets

if TYPE_CHECKING:
    from bot.client import KoboBot


async def setup(bot: KoboBot) -> None:
    await bot.add_cog(Datasets(bot))
