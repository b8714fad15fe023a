"""/datasets show, search, merge and export through the fake Discord."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from augment import ReadLimits, read_sheet
from i18n import text
from tests.cogs.review.flows import augment_with_bert, decide_id, open_review, press
from tests.conftest import DISCORD_LOCALES, show_every_command_to_everyone

PENGUINS = "user,assistant\r\nペンギンは何を食べますか,魚だよ！\r\n犬は好き？,うん！\r\n".encode()
SYSTEM = "あなたはロボットです。"


@pytest.fixture
def kobo_settings(kobo_settings, rigged_model_dir):
    return kobo_settings.model_copy(update={"augment_model": str(rigged_model_dir)})


async def augment_csv(fake, staff, name: str, data: bytes, count: int = 1):
    options = {
        "file": fake.attachment(name, data),
        "method": "duplicate",
        "count": count,
        "system_prompt": SYSTEM,
    }
    return await (await fake.invoke("augment", options, user=staff)).wait_for(
        lambda i: i.final_message if i.final_message and i.final_message.files else None
    )


async def run(fake, name, options, user, locale="en-US"):
    return await (await fake.invoke(name, options, user=user, locale=locale)).wait_response()


async def test_searching_part_of_a_word_finds_it_with_its_dataset_and_line(
    language, kobo, fake_discord, workshop
):
    locale = DISCORD_LOCALES[language]
    await augment_csv(fake_discord, workshop.staff, "animals.csv", PENGUINS)
    found = await run(fake_discord, "datasets search", {"query": "ペンギ"}, workshop.child, locale)
    embed = found.embeds[0]
    assert embed["title"] == text("curation.search.title", language, query="ペンギ")
    line = text("datacheck.line", language, line=1)
    assert embed["description"] == text(
        "curation.search.hit",
        language,
        dataset=1,
        line=line,
        snippet="**ペンギ**ンは何を食べますか 魚だよ！",
    )
    assert embed["footer"]["text"].endswith(text("curation.search.footer", language, total=1))

    # Two characters: no trigram to look up, so every example is read, and the footer says so.
    short = await run(fake_discord, "datasets search", {"query": "犬"}, workshop.child, locale)
    assert "**#1**" in short.embeds[0]["description"]
    assert text("curation.search.scanned", language) in short.embeds[0]["footer"]["text"]

    nothing = await run(
        fake_discord, "datasets search", {"query": "キリン"}, workshop.child, locale
    )
    assert nothing.embeds[0]["description"] == text(
        "curation.search.none", language, query="キリン"
    )


async def test_search_takes_what_is_typed_literally(kobo, fake_discord, workshop):
    data = b'user,assistant\r\n"say ""hi"" OR NEAR(*)",ok\r\nhello there,yo\r\n'
    await augment_csv(fake_discord, workshop.staff, "odd.csv", data)
    for query in ('"hi"', "OR NEAR(*)", "hi*", "user:hello"):
        reply = await run(fake_discord, "datasets search", {"query": query}, workshop.child)
        assert not reply.ephemeral, reply.content  # no FTS5 syntax error reaches anyone
    found = await run(fake_discord, "datasets search", {"query": '"hi" NEAR(*)'}, workshop.child)
    assert "**#1** line 1" in found.embeds[0]["description"]
    nothing = await run(fake_discord, "datasets search", {"query": "hi*"}, workshop.child)
    assert nothing.embeds[0]["description"] == "No example has “hi\\*”."


async def test_lineage_after_augment_review_and_merge(language, kobo, fake_discord, workshop):
    locale = DISCORD_LOCALES[language]
    staff = workshop.staff
    await augment_with_bert(fake_discord, staff)  # 1
    review = await open_review(fake_discord, staff)
    await press(fake_discord, review, decide_id(3, "drop"), staff)
    finished = await fake_discord.invoke(
        "review", {"dataset": 1, "finish": True, "undecided": "keep"}, user=staff
    )
    await finished.wait_for(lambda i: i.final_message if i.final_message else None)  # 2
    await augment_csv(fake_discord, staff, "animals.csv", PENGUINS, count=2)  # 3
    merged = await (
        await fake_discord.invoke("datasets merge", {"datasets": "2 3"}, user=staff, locale=locale)
    ).wait_for(lambda i: i.final_message if i.final_message else None)
    five, four = 5, 4  # #2 has 5 examples, #3 four: two rows twice (duplicates of each other)
    assert merged.content.splitlines()[0] == text(
        "curation.merge.done",
        language,
        sources="#2, #3",
        dataset=4,
        examples=five + 2,
        duplicates=four - 2,
    )

    shown = await run(fake_discord, "datasets show", {"dataset": 4}, workshop.child, locale)
    lines = shown.embeds[0]["description"].splitlines()
    lineage = [line.removeprefix("- ") for line in lines[1:5]]
    undecided_as = text("curation.undecided_were.keep", language)
    assert lineage == [
        text("curation.lineage.merge", language, id=4, name="merge-2-3", parents="#2, #3",
             duplicates=2, examples=7),
        text("curation.lineage.review", language, id=2, name="robot-bert-reviewed",
             parent="#1", kept=0, edited=0, dropped=1, undecided=3, undecided_as=undecided_as,
             examples=5),
        text("curation.lineage.augment", language, id=3, name="animals-duplicate",
             method="duplicate", source="animals.csv", examples=4),
        text("curation.lineage.augment", language, id=1, name="robot-bert", method="bert",
             source="robot.xlsx", examples=6),
    ]  # fmt: skip
    assert "`7` " in shown.embeds[0]["description"]  # its examples, paged
    ancestors = await kobo.services.datasets.lineage(4)
    assert [(a.dataset.id, a.dataset.operation, a.parents) for a in ancestors] == [
        (4, "merge", (2, 3)),
        (2, "review", (1,)),
        (3, "augment", ()),
        (1, "augment", ()),
    ]


async def test_merge_refuses_what_it_cannot_merge(language, kobo, fake_discord, workshop):
    locale = DISCORD_LOCALES[language]
    await augment_csv(fake_discord, workshop.staff, "animals.csv", PENGUINS)
    for typed, key, params in (
        ("1 x", "curation.merge.not_a_number", {"typed": "x"}),
        ("1", "curation.merge.too_few", {}),
        ("1 1", "curation.merge.twice", {"dataset": 1}),
        ("1 7", "curation.no_dataset", {"dataset": 7}),
    ):
        reply = await (
            await fake_discord.invoke(
                "datasets merge", {"datasets": typed}, user=workshop.staff, locale=locale
            )
        ).wait_for(lambda i: i.final_message if i.final_message else None)
        assert reply.content == text(key, language, **params)
    assert await kobo.services.datasets.count() == 1
    show_every_command_to_everyone(fake_discord, workshop)
    refused = await run(fake_discord, "datasets merge", {"datasets": "1 1"}, workshop.child)
    assert refused.ephemeral and "Only workshop staff can use /datasets merge" in refused.content


async def test_exported_files_parse_back_with_the_review(kobo, fake_discord, workshop):
    staff = workshop.staff
    await augment_with_bert(fake_discord, staff)
    review = await open_review(fake_discord, staff)
    await press(fake_discord, review, decide_id(3, "keep"), staff)
    await press(fake_discord, review, decide_id(4, "drop"), workshop.admin)
    stored = kobo.services.datasets.file_path(await kobo.services.datasets.get(1)).read_bytes()
    sentences = [json.loads(line)["messages"][1]["content"] for line in stored.splitlines()]

    async def export(file_format: str):
        reply = await (
            await fake_discord.invoke(
                "datasets export", {"dataset": 1, "format": file_format}, user=staff
            )
        ).wait_for(lambda i: i.final_message if i.final_message and i.final_message.files else None)
        assert reply.ephemeral
        return reply.file(f"dataset-1.{file_format}").data

    assert await export("jsonl") == stored  # the training file, byte for byte

    sheet = openpyxl.load_workbook(io.BytesIO(await export("xlsx")))["LearningData"]
    rows = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["system", "user", "assistant", "review", "reviewed_by", "edited_user"]
    assert [row[1] for row in rows[1:]] == sentences
    assert [row[3:5] for row in rows[1:]] == [
        ["", ""],
        ["", ""],
        ["keep", "alice"],
        ["drop", "olivia"],
        ["", ""],
        ["", ""],
    ]
    # The sheet goes back into /augment as it is.
    xlsx = await export("xlsx")
    read = read_sheet(xlsx, "dataset-1.xlsx", default_system=None, limits=ReadLimits())
    assert [e.content_of("user") for e in read.examples] == sentences

    table = list(csv.reader(io.StringIO((await export("csv")).decode("utf-8-sig"))))
    assert table[0][3:] == ["review", "reviewed_by", "edited_user"]
    assert [row[1] for row in table[1:]] == sentences
    assert [row[3] for row in table[1:]] == ["", "", "keep", "drop", "", ""]

    missing = await (
        await fake_discord.invoke("datasets export", {"dataset": 9, "format": "csv"}, user=staff)
    ).wait_for(lambda i: i.final_message if i.final_message else None)
    assert missing.content == text("curation.no_dataset", "en", dataset=9)
