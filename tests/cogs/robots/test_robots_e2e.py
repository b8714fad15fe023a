"""/assign, /unassign and /stacks through the fake Discord, checked on the real device API."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app import KoboApp
from tests.conftest import Workshop, show_every_command_to_everyone
from tests.fakes.discord import FakeDiscord

FINE_TUNE = "ft:gpt-4o-mini-2024-07-18:acme:stack4:AbC123"


async def get_text(kobo: KoboApp, number: int | str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{kobo.device_api_port}/get_text"
    async with aiohttp.ClientSession() as http, http.get(url, params={"number": number}) as r:
        return r.status, await r.read()


async def command(fake: FakeDiscord, name: str, options: dict, user):
    """Run a slash command as ``user`` and return what they see."""
    return await (await fake.invoke(name, options, user=user)).wait_response()


async def test_commands_are_synced_to_the_workshop_guild(kobo, fake_discord, workshop):
    names = {c["name"] for c in fake_discord.synced_commands(workshop.guild)}
    assert {"assign", "unassign", "stacks", "augment", "datasets", "train", "jobs"} <= names
    assert fake_discord.synced_commands() == []  # nothing registered globally


async def test_staff_assign_reaches_the_robot_over_http(kobo, fake_discord, workshop: Workshop):
    assert await get_text(kobo, 4) == (200, b'{"message":"gpt-4o-mini"}')

    interaction = await fake_discord.invoke(
        "assign", {"stack_id": 4, "model": FINE_TUNE}, user=workshop.staff, channel=workshop.channel
    )
    reply = await interaction.wait_response()
    assert not reply.ephemeral
    assert f"`gpt-4o-mini` (default) → `{FINE_TUNE}`" in reply.content
    assert await get_text(kobo, 4) == (200, b'{"message":"%s"}' % FINE_TUNE.encode())

    again = await fake_discord.invoke(
        "assign", {"stack_id": 4, "model": "gpt-4.1-mini"}, user=workshop.admin
    )
    assert f"`{FINE_TUNE}` → `gpt-4.1-mini`" in (await again.wait_response()).content
    history = await kobo.services.robots._assignments.history(4)
    assert [(h.old_model, h.new_model, h.changed_by_name) for h in history] == [
        (None, FINE_TUNE, "alice"),
        (FINE_TUNE, "gpt-4.1-mini", "olivia"),
    ]


async def test_non_staff_is_refused_and_nothing_is_written(kobo, fake_discord, workshop):
    show_every_command_to_everyone(fake_discord, workshop)
    interaction = await fake_discord.invoke(
        "assign", {"stack_id": 4, "model": FINE_TUNE}, user=workshop.child
    )
    reply = await interaction.wait_response()
    assert reply.ephemeral
    assert "Only workshop staff can use /assign" in reply.content
    refused = await fake_discord.invoke("unassign", {"stack_id": 4}, user=workshop.child)
    assert "Only workshop staff" in (await refused.wait_response()).content
    assert await get_text(kobo, 4) == (200, b'{"message":"gpt-4o-mini"}')
    assert await kobo.services.robots._assignments.history() == []


@pytest.mark.parametrize(
    ("model", "says"),
    [
        ('ft:"quoted"', "contains '\"'"),
        ("gpt 4o", "contains ' '"),
        ("x" * 129, "at most 128"),
    ],
)
async def test_bad_model_name_gets_an_ephemeral_explanation(
    kobo, fake_discord, workshop, model, says
):
    interaction = await fake_discord.invoke(
        "assign", {"stack_id": 2, "model": model}, user=workshop.staff
    )
    reply = await interaction.wait_response()
    assert reply.ephemeral and says in reply.content
    assert await get_text(kobo, 2) == (200, b'{"message":"gpt-4o-mini"}')


async def test_unassign_falls_back_to_the_default(kobo, fake_discord, workshop):
    await (
        await fake_discord.invoke(
            "assign", {"stack_id": 7, "model": FINE_TUNE}, user=workshop.staff
        )
    ).wait_response()
    reply = await (
        await fake_discord.invoke("unassign", {"stack_id": 7}, user=workshop.staff)
    ).wait_response()
    assert f"`{FINE_TUNE}` → `gpt-4o-mini` (default)" in reply.content
    assert await get_text(kobo, 7) == (200, b'{"message":"gpt-4o-mini"}')
    nothing = await (
        await fake_discord.invoke("unassign", {"stack_id": 7}, user=workshop.staff)
    ).wait_response()
    assert "had no model assigned" in nothing.content


async def test_model_autocomplete_offers_known_models(kobo, fake_discord, workshop):
    await (
        await fake_discord.invoke(
            "assign", {"stack_id": 1, "model": FINE_TUNE}, user=workshop.staff
        )
    ).wait_response()
    choices = await fake_discord.autocomplete(
        "assign", {"stack_id": 3, "model": ""}, focused="model", user=workshop.staff
    )
    assert [c["value"] for c in choices] == [FINE_TUNE, "gpt-4o-mini"]
    narrowed = await fake_discord.autocomplete(
        "assign", {"stack_id": 3, "model": "stack4"}, focused="model", user=workshop.staff
    )
    assert [c["value"] for c in narrowed] == [FINE_TUNE]


async def test_stacks_shows_who_assigned_and_when_each_robot_last_asked(
    kobo, fake_discord: FakeDiscord, workshop
):
    await (
        await fake_discord.invoke(
            "assign", {"stack_id": 4, "model": FINE_TUNE}, user=workshop.staff
        )
    ).wait_response()
    await (
        await fake_discord.invoke(
            "assign", {"stack_id": 5, "model": FINE_TUNE}, user=workshop.staff
        )
    ).wait_response()
    await get_text(kobo, 4)
    await get_text(kobo, 9)  # asked, never assigned

    reply = await (await fake_discord.invoke("stacks", {}, user=workshop.child)).wait_response()
    assert not reply.ephemeral
    lines = reply.embeds[0]["description"].splitlines()
    assert lines[0].startswith(f"**4** · `{FINE_TUNE}` by alice <t:")
    assert "last asked <t:" in lines[0]
    assert lines[1].startswith(f"**5** · `{FINE_TUNE}` by alice") and lines[1].endswith(
        "last asked never"
    )
    assert lines[2].startswith("**9** · `gpt-4o-mini` (default) · last asked <t:")
    assert "3 robots · 1 never asked" in reply.embeds[0]["footer"]["text"]


async def test_without_guild_id_commands_are_synced_globally(fake_discord, kobo_settings):
    settings = kobo_settings.model_copy(update={"guild_id": None})
    with fake_discord.patched_discord():
        async with KoboApp(settings, guild_ready_timeout=0.05) as app:
            await app.wait_until_ready()
    names = {c["name"] for c in fake_discord.synced_commands()}
    assert {"assign", "unassign", "stacks", "augment", "datasets", "train", "jobs"} <= names
