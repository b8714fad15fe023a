"""Placeholder while the feature is wired in."""


async def setup(bot) -> None:
    return None
