"""/assign, /unassign and /stacks through the fake Discord, checked on the real device API."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app import KoboApp
from i18n import text
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
    expected = {"assign", "unassign", "stacks", "augment", "datasets", "train", "jobs", "template"}
    assert expected <= names
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


def model(name: str, language: str) -> str:
    return text("robots.model", language, model=name)


def default(language: str) -> str:
    return text("robots.default_model", language, model="gpt-4o-mini")


async def test_assign_and_unassign_answer_in_the_staff_members_language(
    kobo, fake_discord, workshop
):
    assigned = await (
        await fake_discord.invoke(
            "assign", {"stack_id": 4, "model": FINE_TUNE}, user=workshop.staff, locale="ja"
        )
    ).wait_response()
    assert assigned.content == text(
        "robots.changed", "ja", stack_id=4, old=default("ja"), new=model(FINE_TUNE, "ja")
    )
    assert "次に起動したとき" in assigned.content
    again = await (
        await fake_discord.invoke(
            "assign", {"stack_id": 4, "model": FINE_TUNE}, user=workshop.staff, locale="ja"
        )
    ).wait_response()
    assert again.content == text("robots.unchanged", "ja", stack_id=4, new=model(FINE_TUNE, "ja"))
    back = await (
        await fake_discord.invoke("unassign", {"stack_id": 4}, user=workshop.staff, locale="ja")
    ).wait_response()
    assert back.content == text(
        "robots.changed", "ja", stack_id=4, old=model(FINE_TUNE, "ja"), new=default("ja")
    )
    assert "`gpt-4o-mini`（既定）" in back.content
    nothing = await (
        await fake_discord.invoke("unassign", {"stack_id": 4}, user=workshop.staff, locale="ja")
    ).wait_response()
    assert nothing.content == text(
        "robots.nothing_to_unassign", "ja", stack_id=4, model="gpt-4o-mini"
    )
    english = await (
        await fake_discord.invoke("unassign", {"stack_id": 4}, user=workshop.staff)
    ).wait_response()
    assert english.content == text(
        "robots.nothing_to_unassign", "en", stack_id=4, model="gpt-4o-mini"
    )


@pytest.mark.parametrize(("locale", "language"), [("ja", "ja"), ("en-GB", "en")])
async def test_a_bad_model_name_is_explained_in_the_staff_members_language(
    kobo, fake_discord, workshop, locale, language
):
    reply = await (
        await fake_discord.invoke(
            "assign", {"stack_id": 2, "model": "gpt 4o"}, user=workshop.staff, locale=locale
        )
    ).wait_response()
    assert reply.ephemeral
    assert reply.content == text("robots.model_id.bad_characters", language, characters="' '")
    assert "That does not work" not in reply.content


async def test_stacks_reads_in_japanese_for_a_japanese_reader(kobo, fake_discord, workshop):
    empty = await (
        await fake_discord.invoke("stacks", {}, user=workshop.child, locale="ja")
    ).wait_response()
    assert empty.embeds[0]["title"] == "スタックチャン一覧"
    assert empty.embeds[0]["description"] == text("robots.stacks.empty", "ja", model="gpt-4o-mini")

    await (
        await fake_discord.invoke(
            "assign", {"stack_id": 4, "model": FINE_TUNE}, user=workshop.staff
        )
    ).wait_response()
    await get_text(kobo, 9)  # asked, never assigned
    reply = await (
        await fake_discord.invoke("stacks", {}, user=workshop.child, locale="ja")
    ).wait_response()
    embed = reply.embeds[0]
    first, second = embed["description"].splitlines()
    assert first.startswith(f"**4** · `{FINE_TUNE}`（alice さんが <t:")
    assert first.endswith("に設定） · 最後の問い合わせ: まだありません")
    assert second.startswith("**9** · `gpt-4o-mini`（既定） · 最後の問い合わせ: <t:")
    assert embed["footer"]["text"] == (
        "1 / 1 ページ · ロボット 2 台 · 問い合わせのないロボット 1 台 · 既定のモデル gpt-4o-mini"
    )


async def test_stacks_pages_through_many_robots(kobo, fake_discord, workshop):
    for stack_id in range(1, 32):  # 12 a page: three pages
        await kobo.services.robots.assign(stack_id, "gpt-4.1-mini", by_id="1", by_name="alice")
    reply = await (await fake_discord.invoke("stacks", {}, user=workshop.child)).wait_response()
    embed = reply.embeds[0]
    assert embed["footer"]["text"].startswith("page 1 / 3 · 31 robots · 31 never asked")
    assert [line.split(" ·")[0] for line in embed["description"].splitlines()] == [
        f"**{n}**" for n in range(1, 13)
    ]
    forward = next(b for b in reply.buttons if b["label"] == "▶")
    click = await fake_discord.press_button(reply, forward["custom_id"], user=workshop.child)
    await click.wait_response()
    turned = fake_discord.get_message(reply.id).embeds[0]
    assert turned["footer"]["text"].startswith("page 2 / 3 · 31 robots")
    assert turned["description"].splitlines()[0].startswith("**13** · ")


async def test_robot_commands_are_described_in_japanese_and_english(kobo, fake_discord, workshop):
    for name in ("assign", "unassign", "stacks"):
        synced = fake_discord.synced_command(name, workshop.guild)
        assert synced["description"] == text(f"command.{name}.description", "en")
        assert synced["description_localizations"]["ja"] == text(
            f"command.{name}.description", "ja"
        )
        for option in synced.get("options", []):
            key = f"command.{name}.option.{option['name']}"
            assert option["description_localizations"]["ja"] == text(key, "ja")
