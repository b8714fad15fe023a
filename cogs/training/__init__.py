"""/train, /jobs, /job and /cancel, and the channel notices of running fine-tunes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.training._cog import Training

if TYPE_CHECKING:
    from bot.client import KoboBot


async def setup(bot: KoboBot) -> None:
    await bot.add_cog(Training(bot))
