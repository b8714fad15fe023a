"""/robot-key, /try and the chat counters in /stacks through the fake Discord, checked against
the real device API (robots chat over HTTP) and the fake OpenAI, in Japanese and English."""

from __future__ import annotations

import re

import pytest

from bot.app import KoboApp
from i18n import text
from tests.conftest import DISCORD_LOCALES, Workshop, following, show_every_command_to_everyone
from tests.fakes.discord import FakeDiscord
from tests.gateway import stackchan_ex
from tests.openapi.clients import checked_session

FINE_TUNE = "ft:gpt-4o-mini-2024-07-18:acme:stack4:AbC123"
KEY = re.compile(r'aiservice: "(kobo-\d+-[A-Za-z0-9_-]+)"')
HELLO = [{"role": "user", "content": "こんにちは"}]


@pytest.fixture
def kobo_settings(kobo_settings, fake_openai, language):
    return following(kobo_settings, fake_openai, device_api_public_url="http://192.168.1.10:8000")


def chat_url(kobo: KoboApp) -> str:
    return f"http://127.0.0.1:{kobo.device_api_port}/v1/chat/completions"


async def robot_key(fake: FakeDiscord, workshop: Workshop, stack_id: int, language: str) -> str:
    reply = await (
        await fake.invoke(
            "robot-key",
            {"stack_id": stack_id},
            user=workshop.staff,
            locale=DISCORD_LOCALES[language],
        )
    ).wait_response()
    assert reply.ephemeral
    return reply


async def test_robot_key_gives_the_sd_card_lines_once_and_the_key_works(
    kobo, fake_discord, workshop, fake_openai, language
):
    await kobo.services.robots.assign(4, FINE_TUNE, by_id="1", by_name="alice")
    reply = await robot_key(fake_discord, workshop, 4, language)

    key = KEY.search(reply.content).group(1)
    assert reply.content == text(
        "gateway.key.issued",
        language,
        stack_id=4,
        key=key,
        endpoint="http://192.168.1.10:8000/v1/chat/completions",
    )
    assert "type: 4" in reply.content
    # Shown once: nothing in the channel, and the database has only its hash.
    assert fake_discord.channel_messages(workshop.channel) == []
    stored = await kobo.db.fetchall("SELECT * FROM robot_keys")
    assert key not in repr([dict(row) for row in stored])

    async with checked_session() as http:
        said = await stackchan_ex.say(http, chat_url(kobo), key, HELLO)
    assert said.spoken == f"{FINE_TUNE} heard: こんにちは"
    assert fake_openai.calls("POST", "/v1/chat")[-1].authorization == (
        f"Bearer {fake_openai.api_key}"
    )


async def test_a_new_key_replaces_the_old_and_revoking_stops_the_robot(
    kobo, fake_discord, workshop, language
):
    old = KEY.search((await robot_key(fake_discord, workshop, 4, language)).content).group(1)
    again = await robot_key(fake_discord, workshop, 4, language)
    new = KEY.search(again.content).group(1)
    assert text("gateway.key.replaced", language, stack_id=4) in again.content

    revoked = await (
        await fake_discord.invoke(
            "robot-key",
            {"stack_id": 4, "revoke": True},
            user=workshop.staff,
            locale=DISCORD_LOCALES[language],
        )
    ).wait_response()
    assert revoked.ephemeral
    assert revoked.content == text("gateway.key.revoked", language, stack_id=4)

    async with checked_session() as http:
        for key in (old, new):
            said = await stackchan_ex.say(http, chat_url(kobo), key, HELLO)
            assert said.status == 401

    nothing = await (
        await fake_discord.invoke(
            "robot-key",
            {"stack_id": 4, "revoke": True},
            user=workshop.staff,
            locale=DISCORD_LOCALES[language],
        )
    ).wait_response()
    assert nothing.content == text("gateway.key.nothing_to_revoke", language, stack_id=4)


async def test_children_cannot_make_keys_or_try_models(kobo, fake_discord, workshop, language):
    show_every_command_to_everyone(fake_discord, workshop)
    for name, options in (
        ("robot-key", {"stack_id": 4}),
        ("try", {"model": "gpt-4o-mini", "message": "hi"}),
    ):
        reply = await (
            await fake_discord.invoke(
                name, options, user=workshop.child, locale=DISCORD_LOCALES[language]
            )
        ).wait_response()
        assert reply.ephemeral
        assert reply.content == text("error.not_staff", language, command=name)
    assert await kobo.db.fetchall("SELECT * FROM robot_keys") == []


async def test_stacks_shows_each_robots_chats_tokens_and_failures(
    kobo, fake_discord, workshop, fake_openai, language
):
    key = KEY.search((await robot_key(fake_discord, workshop, 4, language)).content).group(1)
    async with checked_session() as http:
        await stackchan_ex.say(http, chat_url(kobo), key, HELLO)
        fake_openai.fail_next(1, 500, path_prefix="/v1/chat")
        await stackchan_ex.say(http, chat_url(kobo), key, HELLO)
    (robot,) = await kobo.services.robots.overview()

    reply = await (
        await fake_discord.invoke(
            "stacks", {}, user=workshop.staff, locale=DISCORD_LOCALES[language]
        )
    ).wait_response()

    line = reply.embeds[0]["description"]
    assert line.endswith(
        text("robots.stacks.usage", language, requests=2, errors=1, tokens=robot.usage.tokens)
    )
    assert robot.usage.tokens > 0


async def test_try_answers_with_an_openai_model_and_stores_nothing(
    kobo, fake_discord, workshop, fake_openai, language
):
    reply = await (
        await fake_discord.invoke(
            "try",
            {"model": FINE_TUNE, "message": "元気？", "system_prompt": "やさしく答えて"},
            user=workshop.staff,
            locale=DISCORD_LOCALES[language],
        )
    ).wait_response()

    assert reply.ephemeral
    (embed,) = reply.embeds
    assert embed["title"] == text("gateway.try.title", language, model=FINE_TUNE)
    assert embed["description"] == f"{FINE_TUNE} heard: 元気？"
    footer = re.fullmatch(
        text("gateway.try.footer", language, seconds="X", prompt="P", completion="C")
        .replace("X", r"[\d.]+")
        .replace("P", r"\d+")
        .replace("C", str(len(f"{FINE_TUNE} heard: 元気？"))),
        embed["footer"]["text"],
    )
    assert footer
    sent = fake_openai.calls("POST", "/v1/chat")[-1]
    assert sent.body["messages"] == [
        {"role": "system", "content": "やさしく答えて"},
        {"role": "user", "content": "元気？"},
    ]
    for table in ("robot_usage", "robot_keys"):
        assert await kobo.db.fetchall(f"SELECT * FROM {table}") == []


async def test_try_says_what_went_wrong_in_the_readers_language(
    kobo, fake_discord, workshop, fake_openai, language
):
    fake_openai.chat_models = {"gpt-4o-mini"}
    reply = await (
        await fake_discord.invoke(
            "try",
            {"model": "gpt-5-imaginary", "message": "hi"},
            user=workshop.staff,
            locale=DISCORD_LOCALES[language],
        )
    ).wait_response()
    assert reply.ephemeral
    assert reply.content == text(
        "gateway.upstream_error",
        language,
        upstream=text("gateway.upstream.openai", language),
        status=404,
        detail="The model `gpt-5-imaginary` does not exist or you do not have access to it.",
    )
