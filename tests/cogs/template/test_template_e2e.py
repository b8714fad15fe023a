"""/template through the fake Discord: the sheet in the reader's language, ready for /augment."""

from __future__ import annotations

import io

import openpyxl
import pytest

from augment.template import DATA_SHEET, template_xlsx
from i18n import text
from tests.augment.template_sheets import contents, filled


@pytest.mark.parametrize(
    ("locale", "language", "headers", "guide"),
    [
        ("ja", "ja", ["システム", "ユーザー", "アシスタント"], "使い方"),
        ("en-US", "en", ["system", "user", "assistant"], "How to use"),
    ],
)
async def test_template_attaches_the_sheet_in_the_readers_language(
    kobo, fake_discord, workshop, locale, language, headers, guide
):
    reply = await (
        await fake_discord.invoke("template", {}, user=workshop.child, locale=locale)
    ).wait_response()
    assert reply.ephemeral  # only whoever asked gets the file
    assert reply.content == text("template.reply", language, guide=guide)
    sheet = reply.file("kobo-template.xlsx")
    assert contents(sheet.data) == contents(template_xlsx(language))
    workbook = openpyxl.load_workbook(io.BytesIO(sheet.data))
    assert workbook.sheetnames == [DATA_SHEET, guide]
    assert [cell.value for cell in workbook[DATA_SHEET][1]] == headers


@pytest.mark.parametrize("locale", ["ja", "en-US"])
async def test_the_template_filled_in_goes_through_augment(kobo, fake_discord, workshop, locale):
    reply = await (
        await fake_discord.invoke("template", {}, user=workshop.staff, locale=locale)
    ).wait_response()
    # Filled in under the headers it came with (Japanese ones for a Japanese reader).
    rows = [(None, f"きみの名前は？ {n}", f"スタックチャンだよ。{n}") for n in range(1, 9)]
    sheet = filled(reply.file("kobo-template.xlsx").data, rows)
    options = {
        "file": fake_discord.attachment("robot.xlsx", sheet),
        "method": "duplicate",
        "count": 2,
        "system_prompt": "あなたはスタックチャンです。",
    }
    done = await (
        await fake_discord.invoke("augment", options, user=workshop.staff, locale=locale)
    ).wait_for(lambda i: i.final_message if i.final_message and i.final_message.files else None)
    assert done.file("robot-duplicate.jsonl")
    dataset = await kobo.services.datasets.get(1)
    assert dataset.example_count == 20  # the two examples and eight rows, each twice


async def test_template_is_described_in_japanese(kobo, fake_discord, workshop):
    synced = fake_discord.synced_command("template", workshop.guild)
    assert synced["description"] == text("command.template.description", "en")
    assert synced["description_localizations"]["ja"] == text("command.template.description", "ja")
