"""discord.py's sync payload carries the catalogue's Japanese and English for command texts."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from bot.translator import CatalogueTranslator, localized

STATUSES = ("unfinished", "succeeded", "failed", "cancelled", "all")


@app_commands.command(name="jobs", description=localized("command.jobs.description"))
@app_commands.describe(
    status=localized("command.jobs.option.status"), page=localized("command.jobs.option.page")
)
@app_commands.choices(
    status=[
        app_commands.Choice(name=localized(f"choice.job_status.{s}"), value=s) for s in STATUSES
    ]
)
async def jobs(interaction: discord.Interaction, status: str = "all", page: int = 1) -> None:
    pass


@app_commands.command(
    name="ping", description=app_commands.locale_str("Plain text, not from the catalogue")
)
async def ping(interaction: discord.Interaction) -> None:
    pass


@pytest.fixture
async def tree():
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    tree.add_command(jobs)
    tree.add_command(ping)
    await tree.set_translator(CatalogueTranslator())
    yield tree
    await tree.set_translator(None)
    await client.close()


async def payload(tree: app_commands.CommandTree, name: str) -> dict:
    return await tree.get_command(name).get_translated_payload(tree, tree.translator)


async def test_description_is_english_by_default_and_localised_for_ja_and_en(tree):
    command = await payload(tree, "jobs")
    assert command["description"] == "Fine-tuning jobs, newest first"
    assert command["description_localizations"] == {
        "ja": "ファインチューニングのジョブ一覧（新しい順）",
        "en-US": "Fine-tuning jobs, newest first",
        "en-GB": "Fine-tuning jobs, newest first",
    }


async def test_option_descriptions_and_choice_names_are_localised(tree):
    status, page = (await payload(tree, "jobs"))["options"]
    assert status["description_localizations"]["ja"] == "表示するジョブの状態"
    assert page["description_localizations"]["ja"] == "ページ番号"
    choices = {choice["value"]: choice for choice in status["choices"]}
    assert choices["cancelled"]["name"] == "Cancelled"
    assert choices["cancelled"]["name_localizations"]["ja"] == "キャンセル済み"
    assert {c["name_localizations"]["ja"] for c in choices.values()} == {
        "未完了",
        "成功",
        "失敗",
        "キャンセル済み",
        "すべて",
    }


async def test_locales_kobo_does_not_speak_see_the_default(tree):
    command = await payload(tree, "jobs")
    status = command["options"][0]
    assert discord.Locale.french.value not in command["description_localizations"]
    assert discord.Locale.chinese.value not in status["description_localizations"]


async def test_texts_not_from_the_catalogue_are_left_alone(tree):
    command = await payload(tree, "ping")
    assert command["description"] == "Plain text, not from the catalogue"
    assert command["description_localizations"] == {}
