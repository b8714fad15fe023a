"""kobo acts only in the server(s) in GUILD_ID; anywhere else (another server, a DM, or every
server when GUILD_ID is unset) commands, autocomplete, buttons and forms are refused and
nothing is read or written."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from bot.app import KoboApp
from i18n import text
from storage.finetune_jobs import FineTuneJobRepository, JobRecord
from tests.cogs.robots.test_robots_e2e import get_text
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeGuild, FakeMember

FINE_TUNE = "ft:gpt-4o-mini-2024-07-18:acme:stack4:AbC123"
DEFAULT = b'{"message":"gpt-4o-mini"}'
STAFF_COMMANDS = {"assign", "unassign", "augment", "train", "cancel"}
EVERYONE_COMMANDS = {"stacks", "datasets", "jobs", "job"}
MANAGE_GUILD = str(1 << 5)


@dataclass
class Stranger:
    """Another server that added the bot; its owner has every permission there."""

    guild: FakeGuild
    channel: FakeChannel
    admin: FakeMember


@pytest.fixture
def stranger(fake_discord: FakeDiscord) -> Stranger:
    guild = fake_discord.add_guild("Elsewhere")
    channel = fake_discord.add_text_channel(guild, "general")
    admins = fake_discord.add_role(guild, "Admins", administrator=True)
    return Stranger(guild, channel, fake_discord.add_member(guild, "mallory", roles=[admins]))


async def run_kobo(settings) -> KoboApp:
    app = KoboApp(settings, guild_ready_timeout=0.05)
    await app.start()
    await app.wait_until_ready()
    return app


def refusals(caplog: pytest.LogCaptureFixture, guild: FakeGuild) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and f"server {guild.id}" in r.getMessage()
    ]


async def test_another_server_is_refused_and_nothing_is_read_or_written(
    stranger, kobo, fake_discord: FakeDiscord, workshop, caplog
):
    # kobo served that server in an earlier run: its commands and a success notice with the
    # "Assign to a robot…" button are still there.
    fake_discord.register_commands(stranger.guild, fake_discord.synced_commands(workshop.guild))
    await FineTuneJobRepository(kobo.db).insert_job(
        JobRecord(
            job_id="ftjob-old",
            plan_id="plan-old",
            base_model="gpt-4o-mini-2024-07-18",
            training_file_id="file-1",
            training_filename="train.jsonl",
            validation_file_id=None,
            requested_epochs="auto",
            hyperparameters={},
            suffix=None,
            seed=None,
            guild_id=str(stranger.guild.id),
            channel_id=str(stranger.channel.id),
            requested_by=str(stranger.admin.id),
            created_at="2025-06-01T09:00:00.000Z",
            status="succeeded",
            estimated_tokens=1000,
            estimated_cost_usd=0.01,
            fine_tuned_model=FINE_TUNE,
        )
    )
    button = {"type": 2, "style": 1, "label": "Assign", "custom_id": "kobo:assign-ft:ftjob-old"}
    notice = fake_discord.add_bot_message(
        stranger.channel, "✅ succeeded", components=[{"type": 1, "components": [button]}]
    )
    refused = text("server.not_enabled", "en", guild_id=stranger.guild.id)

    assign = await fake_discord.invoke(
        "assign", {"stack_id": 4, "model": "gpt-4.1-nano"}, user=stranger.admin
    )
    reply = await assign.wait_response()
    assert reply.ephemeral and reply.content == refused
    stacks = await (await fake_discord.invoke("stacks", {}, user=stranger.admin)).wait_response()
    assert stacks.ephemeral and stacks.content == refused and not stacks.embeds
    choices = await fake_discord.autocomplete(
        "assign", {"stack_id": 4, "model": ""}, focused="model", user=stranger.admin
    )
    assert choices == []  # kobo knows FINE_TUNE (a succeeded job) but tells no stranger
    pressed = await fake_discord.press_button(
        notice, "kobo:assign-ft:ftjob-old", user=stranger.admin
    )
    assert (await pressed.wait_response()).content == refused
    assert pressed.modal is None

    assert await get_text(kobo, 4) == (200, DEFAULT)
    assert await kobo.services.robots._assignments.history() == []
    assert [r.getMessage() for r in refusals(caplog, stranger.guild)] == [
        f"refused an interaction from server {stranger.guild.id}: it is not in GUILD_ID "
        "(logged once)"
    ]

    # The workshop is served as before.
    done = await fake_discord.invoke(
        "assign", {"stack_id": 4, "model": FINE_TUNE}, user=workshop.staff
    )
    assert "→" in (await done.wait_response()).content
    assert await get_text(kobo, 4) == (200, b'{"message":"%s"}' % FINE_TUNE.encode())


async def test_without_guild_id_every_server_is_told_what_the_host_must_do(
    fake_discord: FakeDiscord, kobo_settings, workshop, caplog
):
    with fake_discord.patched_discord():
        app = await run_kobo(kobo_settings.model_copy(update={"guild_id": None}))
        try:
            assert {c["name"] for c in fake_discord.synced_commands()} >= STAFF_COMMANDS
            for name, options in (("stacks", {}), ("assign", {"stack_id": 2, "model": "x"})):
                interaction = await fake_discord.invoke(name, options, user=workshop.admin)
                reply = await interaction.wait_response()
                assert reply.ephemeral
                assert reply.content == (
                    f"kobo is not enabled in this server. The host adds this server's id "
                    f"{workshop.guild.id} to GUILD_ID in .env and restarts kobo."
                )
            assert await get_text(app, 2) == (200, DEFAULT)  # the robots are still served
        finally:
            await app.stop()
    warnings = refusals(caplog, workshop.guild)
    assert len(warnings) == 1 and "GUILD_ID is not set" in warnings[0].getMessage()


async def test_direct_messages_are_refused(fake_discord: FakeDiscord, kobo_settings, workshop):
    # Discord does not offer guild-only commands in DMs; kobo must not rely on that alone.
    fake_discord.enforce_contexts = False
    with fake_discord.patched_discord():
        app = await run_kobo(kobo_settings.model_copy(update={"guild_id": None}))
        try:
            for name, options in (("stacks", {}), ("unassign", {"stack_id": 2})):
                interaction = await fake_discord.invoke(
                    name, options, user=workshop.admin, in_dm=True
                )
                reply = await interaction.wait_response()
                assert reply.ephemeral and reply.content == text(
                    "server.not_in_direct_messages", "en"
                )
            assert await app.services.robots._assignments.history() == []
        finally:
            await app.stop()


async def test_commands_go_to_each_allowed_server_and_old_global_ones_are_removed(
    fake_discord: FakeDiscord, kobo_settings, workshop, stranger
):
    with fake_discord.patched_discord():
        # An earlier run without GUILD_ID registered the commands globally.
        earlier = await run_kobo(kobo_settings.model_copy(update={"guild_id": None}))
        await earlier.stop()
        assert fake_discord.synced_commands()
        both = (workshop.guild.id, stranger.guild.id)
        app = await run_kobo(kobo_settings.model_copy(update={"guild_id": both}))
        try:
            assert fake_discord.synced_commands() == []
            for guild in (workshop.guild, stranger.guild):
                names = {c["name"] for c in fake_discord.synced_commands(guild)}
                assert names >= STAFF_COMMANDS | EVERYONE_COMMANDS
            stacks = await fake_discord.invoke("stacks", {}, user=stranger.admin)
            assert (await stacks.wait_response()).embeds  # the second server is served too
        finally:
            await app.stop()


async def test_staff_commands_are_hidden_unless_the_server_shows_them(
    kobo, fake_discord: FakeDiscord, workshop
):
    synced = {c["name"]: c for c in fake_discord.synced_commands(workshop.guild)}
    for name in STAFF_COMMANDS:
        assert synced[name]["default_member_permissions"] == MANAGE_GUILD, name
    for name in EVERYONE_COMMANDS:
        assert synced[name]["default_member_permissions"] is None, name

    with pytest.raises(PermissionError, match="hides /assign from bob"):
        await fake_discord.invoke("assign", {"stack_id": 1, "model": "x"}, user=workshop.child)
    # The staff role sees it because the server allowed it (Integrations), the admin by right.
    for user in (workshop.staff, workshop.admin):
        shown = await fake_discord.invoke("unassign", {"stack_id": 1}, user=user)
        assert "had no model assigned" in (await shown.wait_response()).content
