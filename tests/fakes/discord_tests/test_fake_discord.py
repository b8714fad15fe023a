"""The fake Discord drives the real discord.py client through every feature kobo uses."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.fakes.discord import FakeDiscord, InvalidInvocation, run_client
from tests.fakes.discord_tests.conftest import Workshop
from tests.fakes.discord_tests.demo_bot import DemoBot


async def test_bot_logs_in_syncs_commands_and_sees_the_guild(
    fake: FakeDiscord, workshop: Workshop
) -> None:
    async with run_client(fake, DemoBot(workshop.guild.id)) as bot:
        assert bot.user is not None and bot.user.id == fake.bot_user.id
        assert bot.application_id == fake.application_id
        guild = bot.get_guild(workshop.guild.id)
        assert guild is not None and guild.name == "Workshop"
        assert [c.name for c in guild.text_channels] == ["robots"]
        alice = guild.get_member(workshop.staff.id)
        assert alice is not None and alice.guild_permissions.manage_guild
        assert [r.name for r in alice.roles] == ["@everyone", "Staff"]
        assert fake.connected

        synced = {c["name"]: c for c in fake.synced_commands(workshop.guild)}
        assert set(synced) == {
            *(
                "hello",
                "assign",
                "report",
                "upload",
                "panel",
                "rename",
                "slow",
                "pick",
                "nap",
                "steps",
            ),
            "robot",
        }
        assign_options = {o["name"]: o for o in synced["assign"]["options"]}
        assert assign_options["stack_id"]["min_value"] == 1
        assert assign_options["model"]["autocomplete"] is True
        assert {c.name for c in bot.synced} == set(synced)
        assert fake.synced_commands() == []  # nothing global
    assert not fake.connected


async def test_slash_command_with_options_gets_an_ephemeral_reply(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    interaction = await fake.invoke("hello", {"name": "Stack-chan"}, user=workshop.child)

    reply = await interaction.wait_response()
    assert reply.content == "Hello, Stack-chan!"
    assert reply.ephemeral
    assert interaction.callback_type == 4
    assert fake.channel_messages(workshop.robots) == []  # only bob saw it
    callback = fake.requests_to("POST", f"/interactions/{interaction.id}/")[0]
    assert callback.json["data"]["flags"] == 64


async def test_embed_reply_is_public_and_readable(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    interaction = await fake.invoke(
        "assign", {"stack_id": 4, "model": "ft:x"}, user=workshop.staff, channel=workshop.robots
    )

    reply = await interaction.wait_response()
    assert reply.embeds[0]["title"] == "Assigned"
    assert "Stack-chan 4 -> ft:x" in reply.text
    assert not reply.ephemeral
    assert fake.channel_messages(workshop.robots) == [reply]


async def test_discord_refuses_what_its_client_would_not_send(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    with pytest.raises(InvalidInvocation, match="must be <= 99"):
        await fake.invoke("assign", {"stack_id": 100, "model": "x"}, user=workshop.staff)
    with pytest.raises(InvalidInvocation, match="required option 'model' is missing"):
        await fake.invoke("assign", {"stack_id": 1}, user=workshop.staff)
    with pytest.raises(InvalidInvocation, match=r"synced: .*hello"):
        await fake.invoke("nope", user=workshop.staff)
    with pytest.raises(PermissionError, match="hides /assign from bob"):
        await fake.invoke("assign", {"stack_id": 1, "model": "x"}, user=workshop.child)


async def test_deferred_command_followup_carries_a_file(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    interaction = await fake.invoke("report", user=workshop.staff)

    reply = await interaction.wait_response()
    assert interaction.callback_type == 5
    assert reply.content == "Report ready"
    assert [(f.name, f.data) for f in reply.files] == [("report.csv", b"stack,model\n4,ft:alpha\n")]
    # The followup replaced the "thinking..." placeholder instead of adding a message.
    assert interaction.responses == [reply] and reply is interaction.original
    upload = fake.requests_to("POST", f"/webhooks/{fake.application_id}/")[0]
    assert upload.files[0].filename == "report.csv"
    assert upload.json["attachments"][0]["filename"] == "report.csv"


async def test_deferred_command_edits_its_original_response(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    interaction = await fake.invoke("slow", user=workshop.child)

    reply = await interaction.wait_response()
    assert reply.content == "Finished slowly"
    assert reply.ephemeral and reply.edit_count == 1
    assert fake.requests_to("PATCH", "/messages/@original")


async def test_attachment_option_is_downloaded_by_the_bot(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    raw = "text\nこんにちは\n".encode()
    sheet = fake.attachment("sentences.csv", raw)

    interaction = await fake.invoke("upload", {"sheet": sheet}, user=workshop.staff)

    reply = await interaction.wait_response()
    assert reply.content == f"sentences.csv: {len(raw)} bytes, first line 'text'"


async def test_autocomplete_returns_the_bots_choices(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    choices = await fake.autocomplete(
        "assign", {"stack_id": 7, "model": "kobo"}, focused="model", user=workshop.staff
    )

    assert choices == [
        {"name": "ft:gpt-4o-mini:kobo:alpha (stack 7)", "value": "ft:gpt-4o-mini:kobo:alpha"},
        {"name": "ft:gpt-4o-mini:kobo:beta (stack 7)", "value": "ft:gpt-4o-mini:kobo:beta"},
    ]


async def test_button_press_updates_the_message(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    panel = await (await fake.invoke("panel", user=workshop.staff)).wait_response()
    assert [b["label"] for b in panel.buttons] == ["Start", "Stop"]

    press = await fake.press_button(panel, "panel:start", user=workshop.child)

    updated = await press.wait_response()
    assert updated is panel
    assert panel.content == "Started by bob"
    assert panel.buttons[0]["disabled"] is True
    assert press.callback_type == 7
    with pytest.raises(InvalidInvocation, match="disabled"):
        await fake.press_button(panel, "panel:start", user=workshop.child)


async def test_modal_is_opened_and_submitted(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    opened = await fake.invoke("rename", user=workshop.staff)
    modal = await opened.wait_modal()
    assert modal["title"] == "Rename robot"

    submitted = await fake.submit_modal(opened, {"New name": "Kobo-4", "rename:note": "blue"})

    reply = await submitted.wait_response()
    assert reply.content == "Renamed to Kobo-4 (blue)"
    with pytest.raises(InvalidInvocation, match="'New name' is required"):
        await fake.submit_modal(opened, {"Note": "no name"})


async def test_channel_send_with_the_same_nonce_creates_one_message(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    channel = bot.get_partial_messageable(workshop.robots.id)

    first = await channel.send("Model ready for Stack-chan 4", nonce="notice-42")
    again = await channel.send("Model ready for Stack-chan 4", nonce="notice-42")
    other = await channel.send(
        "Report", nonce="notice-43", file=discord.File(__file__, filename="r.py")
    )

    assert again.id == first.id
    messages = fake.channel_messages(workshop.robots)
    assert [m.content for m in messages] == ["Model ready for Stack-chan 4", "Report"]
    assert messages[1].files[0].data.startswith(b'"""The fake Discord')
    assert other.attachments[0].filename == "r.py"
    sent = fake.requests_to("POST", f"/channels/{workshop.robots.id}/messages")
    assert [r.json["enforce_nonce"] for r in sent] == [True, True, True]
    found = await fake.wait_for_channel_message(workshop.robots, lambda m: "Report" in m.text)
    assert found.id == other.id


async def test_unknown_and_forbidden_channels_fail_like_discord(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    channel = bot.get_partial_messageable(workshop.robots.id)

    fake.make_channel_unknown(workshop.robots)
    with pytest.raises(discord.NotFound) as unknown:
        await channel.send("hello")
    fake.make_channel_forbidden(workshop.robots)
    with pytest.raises(discord.Forbidden) as forbidden:
        await bot.fetch_channel(workshop.robots.id)
    fake.restore_channel(workshop.robots)
    await channel.send("back")
    fetched = await bot.fetch_channel(workshop.robots.id)

    assert unknown.value.code == 10003
    assert forbidden.value.code == 50013
    assert [m.content for m in fake.channel_messages(workshop.robots)] == ["back"]
    assert isinstance(fetched, discord.TextChannel) and fetched.name == "robots"


async def test_waits_fail_with_what_was_recorded(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    await bot.get_partial_messageable(workshop.robots.id).send("something else")

    with pytest.raises(TimeoutError, match="something else"):
        await fake.wait_for_channel_message(
            workshop.robots, lambda m: m.content == "never", timeout=0.2
        )


async def test_a_wrong_token_is_refused(fake: FakeDiscord, workshop: Workshop) -> None:
    with pytest.raises(discord.LoginFailure):
        async with run_client(fake, DemoBot(workshop.guild.id), token="stolen"):
            pass
    await asyncio.sleep(0)


async def test_component_defer_then_edit_changes_the_clicked_message(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    panel = await (await fake.invoke("panel", user=workshop.staff)).wait_response()

    press = await fake.press_button(panel, "panel:stop", user=workshop.staff)

    assert await press.wait_response() is panel
    assert press.callback_type == 6
    assert panel.content == "Stopped" and panel.components == []
    assert press.responses == []  # no new message, the panel itself changed


async def test_select_menu_choice_reaches_the_bot(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    menu = await (await fake.invoke("pick", user=workshop.child)).wait_response()

    picked = await fake.select(menu, "pick:model", ["gpt-4o-mini"], user=workshop.child)

    assert (await picked.wait_response()).content == "Picked gpt-4o-mini"
    with pytest.raises(InvalidInvocation, match="offers"):
        await fake.select(menu, "pick:model", ["gpt-5"], user=workshop.child)


async def test_subcommand_is_invoked_by_its_full_name(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    interaction = await fake.invoke("robot status", {"robot_id": 3}, user=workshop.child)

    assert (await interaction.wait_response()).content == "Robot 3 is online"
    sent = interaction.data["options"][0]
    assert sent == {
        "name": "status",
        "type": 1,
        "options": [{"name": "robot_id", "type": 4, "value": 3}],
    }


async def test_answering_after_the_deadline_fails_like_discord(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    fake.world.response_deadline = 0.05
    bot.nap_seconds = 0.1

    interaction = await fake.invoke("nap", user=workshop.child)

    await fake.wait_until(lambda: bot.late_error_code, what="the bot saw its late reply fail")
    assert bot.late_error_code == 10062
    assert interaction.responses == [] and interaction.rejected_callbacks


async def test_members_added_later_reach_the_running_bot(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    carol = fake.add_member(workshop.guild, "carol")
    guild = bot.get_guild(workshop.guild.id)
    assert guild is not None

    member = await fake.wait_until(lambda: guild.get_member(carol.id), what="carol cached")
    assert member.name == "carol"


async def test_run_client_reports_endpoints_the_fake_lacks(
    fake: FakeDiscord, workshop: Workshop
) -> None:
    with pytest.raises(AssertionError, match=r"endpoints the fake lacks.*emojis"):
        async with run_client(fake, DemoBot(workshop.guild.id)) as bot:
            guild = bot.get_guild(workshop.guild.id)
            assert guild is not None
            with pytest.raises(discord.NotFound):
                await guild.fetch_emojis()


async def test_followups_can_be_edited_with_files_and_the_original_deleted(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    interaction = await fake.invoke("steps", user=workshop.staff, channel=workshop.robots)

    await interaction.wait_for(lambda i: i.original and i.original.deleted)
    [note] = interaction.responses
    assert note.content == "step 2 with log" and note.ephemeral
    assert [(f.name, f.data) for f in note.files] == [("log.txt", b"ok")]
    assert interaction.final_message is note
    assert fake.channel_messages(workshop.robots) == []


async def test_bot_resumes_after_the_gateway_drops(
    fake: FakeDiscord, workshop: Workshop, bot: DemoBot
) -> None:
    await fake.drop_connections()

    await fake.wait_until(lambda: fake.gateway_sessions == 2 and fake.connected, what="resumed")
    assert fake.gateway.resumes == 1
    interaction = await fake.invoke("hello", {"name": "again"}, user=workshop.child)
    assert (await interaction.wait_response()).content == "Hello, again!"
