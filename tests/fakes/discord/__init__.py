"""A fake Discord (REST v10 + JSON gateway) for end-to-end tests of a real discord.py bot.

Usage::

    async with FakeDiscord() as fake:
        guild = fake.add_guild("Workshop")
        robots = fake.add_text_channel(guild, "robots")
        alice = fake.add_member(guild, "alice", roles=[fake.add_role(guild, "Staff")])
        async with run_client(fake, bot):
            interaction = await fake.invoke("assign", {"stack_id": 4}, user=alice)
            reply = await interaction.wait_response()

See server.py for the test API, rest.py / gateway.py / responses.py for what is faked.
"""

from __future__ import annotations

from tests.fakes.discord.client_runner import run_client
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.messages import DiscordApiError
from tests.fakes.discord.models import (
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    RecordedRequest,
)
from tests.fakes.discord.options import InvalidInvocation
from tests.fakes.discord.server import FakeDiscord

__all__ = [
    "DiscordApiError",
    "FakeChannel",
    "FakeDiscord",
    "FakeFile",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "InvalidInvocation",
    "RecordedRequest",
    "run_client",
]
