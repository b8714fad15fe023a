"""/try on a local fine-tune through the fake Discord: the same routing as the robots, the real
llama.cpp engine, the answer with its model, time and tokens, in Japanese and English."""

from __future__ import annotations

import re

import pytest

from i18n import text
from tests.conftest import DISCORD_LOCALES, following


@pytest.fixture
def kobo_settings(kobo_settings, fake_openai, language, local_fine_tunes):
    local_fine_tunes.install(kobo_settings.data_dir)
    return following(
        kobo_settings,
        fake_openai,
        gateway_temperature=0.0,
        gateway_max_answer_tokens=10,
        local_engine_slots=1,
        local_engine_context_tokens=512,
    )


async def test_try_answers_with_a_local_fine_tune(
    kobo, fake_discord, workshop, fake_openai, local_fine_tunes, language
):
    locale = DISCORD_LOCALES[language]
    offered = await fake_discord.autocomplete(
        "try",
        {"model": "tiny", "message": "x"},
        focused="model",
        user=workshop.staff,
        locale=locale,
    )
    assert [choice["value"] for choice in offered] == [
        local_fine_tunes.first,
        local_fine_tunes.second,
    ]

    reply = await (
        await fake_discord.invoke(
            "try",
            {"model": local_fine_tunes.first, "message": "hello robot"},
            user=workshop.staff,
            locale=locale,
        )
    ).wait_response(timeout=120)

    assert reply.ephemeral
    (embed,) = reply.embeds
    assert embed["title"] == text("gateway.try.title", language, model=local_fine_tunes.first)
    # The robots' path gives the very same greedy answer.
    answer = await kobo.services.gateway.answer(
        local_fine_tunes.first, {"messages": [{"role": "user", "content": "hello robot"}]}
    )
    assert embed["description"] == answer.text
    pattern = (
        re.escape(text("gateway.try.footer", language, seconds="X", prompt="P", completion=10))
        .replace("X", r"\d+\.\d")
        .replace("P", r"\d+")
    )
    assert re.fullmatch(pattern, embed["footer"]["text"])
    assert fake_openai.calls("POST", "/v1/chat") == []
