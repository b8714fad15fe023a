"""/augment and /datasets through the fake Discord, with a tiny BERT built by the tests."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from augment.fill_mask import clear_cache
from i18n import text
from tests.augment.conftest import JAPANESE_RIGGED
from tests.augment.models import build_model, japanese_tokenizer
from tests.augment.sheets import SYSTEM, workbook_bytes
from tests.conftest import show_every_command_to_everyone
from tests.fakes.huggingface import FakeHub

ROWS = [
    ("System", "User", "Assistant"),
    (SYSTEM, "公園で犬と遊びたい。", "いいね！"),
    (None, None, None),
    (SYSTEM, "魚は好き？", None),  # half-filled: skipped and reported
    (SYSTEM, "好きな花は何？", "ひまわりだよ。"),
]
REPLACEMENTS = {"犬", "猫", "鳥", "魚", "花"} & set(JAPANESE_RIGGED)
ORIGINALS = {"いいね！": "公園で犬と遊びたい。", "ひまわりだよ。": "好きな花は何？"}
NOUNS = {"公園", "犬", "花"}


def changed_part(before: str, after: str) -> tuple[str, str]:
    """The differing middle of two strings, once their common prefix and suffix are cut."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    return before[start : len(before) - end], after[start : len(after) - end]


@pytest.fixture
def kobo_settings(kobo_settings, rigged_model_dir):
    return kobo_settings.model_copy(update={"augment_model": str(rigged_model_dir)})


def workshop_sheet() -> bytes:
    return workbook_bytes([("Sheet1", []), ("LearningData", ROWS)], formatted_rows=50)


async def run(fake, name, options, user):
    return await (await fake.invoke(name, options, user=user)).wait_response()


async def test_bert_augment_replies_with_a_jsonl_file_and_stores_the_dataset(
    kobo, fake_discord, workshop
):
    sheet = fake_discord.attachment("robot.xlsx", workshop_sheet())
    reply = await run(
        fake_discord,
        "augment",
        {"file": sheet, "method": "bert", "count": 3, "top_k": 9},
        workshop.staff,
    )
    assert not reply.ephemeral
    assert "rows read: 3" in reply.content
    assert "skipped: 1 (row 4: assistant is empty)" in reply.content
    assert "examples out: 6 (2 original + 4 bert)" in reply.content
    assert "dataset **#1**" in reply.content and "/train dataset:1" in reply.content

    jsonl = reply.file("robot-bert.jsonl").data
    lines = [json.loads(line) for line in jsonl.decode("utf-8").splitlines()]
    assert "\\u" not in jsonl.decode("utf-8")  # Japanese is written as is
    users = [line["messages"][1]["content"] for line in lines]
    assert users[:2] == ["公園で犬と遊びたい。", "好きな花は何？"]  # originals first
    assert len(set(users)) == len(users) == 6
    for line in lines[2:]:
        system, user, assistant = line["messages"]
        assert system == {"role": "system", "content": SYSTEM}
        original = ORIGINALS[assistant["content"]]
        # Exactly one noun changed, in place; every other character is as written.
        was, now = changed_part(original, user["content"])
        assert was in NOUNS and now in REPLACEMENTS, (original, user["content"])

    # The same bytes are stored for /train, and /datasets lists them.
    dataset = await kobo.services.datasets.get(1)
    assert dataset.example_count == 6 and dataset.source_file == "robot.xlsx"
    stored = kobo.services.datasets.file_path(dataset).read_bytes()
    assert stored == jsonl and dataset.sha256 == hashlib.sha256(jsonl).hexdigest()
    listing = await run(fake_discord, "datasets list", {}, workshop.child)
    assert "**#1** robot-bert · 6 examples · bert · by alice" in listing.embeds[0]["description"]


async def test_duplicate_of_a_shift_jis_csv_with_a_review_copy(kobo, fake_discord, workshop):
    csv = "user,assistant\r\nこんにちは,やあ！\r\n元気？,元気だよ\r\n".encode("cp932")
    reply = await run(
        fake_discord,
        "augment",
        {
            "file": fake_discord.attachment("挨拶.csv", csv),
            "method": "duplicate",
            "count": 3,
            "system_prompt": "あなたはロボットです。",
            "review_copy": "csv",
        },
        workshop.staff,
    )
    assert "examples out: 6 (2 original + 4 duplicate)" in reply.content
    lines = [json.loads(x) for x in reply.file("挨拶-duplicate.jsonl").data.splitlines()]
    assert [x["messages"][1]["content"] for x in lines] == ["こんにちは", "元気？"] * 3
    assert {x["messages"][0]["content"] for x in lines} == {"あなたはロボットです。"}
    review = reply.file("挨拶-duplicate.csv").data.decode("utf-8-sig")
    assert review.splitlines()[1].split(",")[:2] == ["あなたはロボットです。", "こんにちは"]


@pytest.mark.parametrize(
    ("filename", "data", "says"),
    [
        ("notes.docx", b"PK\x03\x04", "notes.docx: unsupported file type '.docx'"),
        ("broken.xlsx", b"not a zip file", "broken.xlsx"),
        ("q.csv", b"question,answer\nhi,yo\n", "q.csv"),
        ("bad.jsonl", b'{"messages": [}\n', "bad.jsonl, line 1: not valid JSON"),
    ],
)
async def test_bad_files_get_a_clear_message_and_store_nothing(
    kobo, fake_discord, workshop, filename, data, says
):
    reply = await run(
        fake_discord,
        "augment",
        {"file": fake_discord.attachment(filename, data), "method": "duplicate", "count": 2},
        workshop.staff,
    )
    assert says in reply.content
    assert not reply.files
    assert await kobo.services.datasets.count() == 0
    # The bot keeps serving.
    assert (await run(fake_discord, "stacks", {}, workshop.child)).embeds


async def test_a_file_over_the_size_limit_is_refused_before_download(kobo, fake_discord, workshop):
    kobo.settings.augment_max_file_bytes = 100
    reply = await run(
        fake_discord,
        "augment",
        {"file": fake_discord.attachment("big.csv", b"x" * 500), "method": "duplicate", "count": 2},
        workshop.staff,
    )
    assert (
        reply.ephemeral and "big.csv: the file is 500 bytes, over the limit of 100" in reply.content
    )
    assert not fake_discord.requests_to("GET", "/attachments/")


async def test_children_cannot_augment(kobo, fake_discord, workshop):
    show_every_command_to_everyone(fake_discord, workshop)
    reply = await run(
        fake_discord,
        "augment",
        {"file": fake_discord.attachment("a.csv", b"x"), "method": "duplicate", "count": 2},
        workshop.child,
    )
    assert reply.ephemeral and "Only workshop staff can use /augment" in reply.content


async def test_a_queued_augment_with_a_bad_file_shows_the_problem_to_everyone(
    kobo, fake_discord, workshop
):
    cog = kobo.bot.get_cog("Datasets")
    async with cog.one_at_a_time:  # another augmentation is running
        queued = await fake_discord.invoke(
            "augment",
            {
                "file": fake_discord.attachment("bad.jsonl", b'{"messages": [}\n'),
                "method": "duplicate",
                "count": 2,
            },
            user=workshop.staff,
        )
        waiting = await queued.wait_response()
        assert "Waiting for another augmentation" in waiting.content
    # The other one finished; this file is read now and turns out bad. The public "waiting"
    # reply becomes the problem, not a message only the author sees.
    public = await queued.wait_for(
        lambda i: i.original if "not valid JSON" in i.original.content else None
    )
    assert public.id == waiting.id and not public.ephemeral
    assert "bad.jsonl, line 1: not valid JSON" in public.content
    assert not queued.followups
    assert await kobo.services.datasets.count() == 0


async def test_a_capped_count_is_said_and_copies_are_not_shown_as_new_sentences(
    kobo, fake_discord, workshop
):
    csv = "system,user,assistant\ns,こんにちは,やあ！\n".encode()
    reply = await run(
        fake_discord,
        "augment",
        {"file": fake_discord.attachment("hi.csv", csv), "method": "duplicate", "count": 30},
        workshop.staff,
    )
    assert "examples out: 21 (1 original + 20 duplicate)" in reply.content
    assert "count 30 was capped to 21 (AUGMENT_MAX_NEW_PER_ROW = 20 new per row)" in reply.content
    assert "New sentences" not in reply.content


# A sheet as a Japanese workshop writes it: Japanese headers, a half-filled row.
JAPANESE_SHEET = "質問,答え\r\nこんにちは,やあ！\r\n元気？,\r\n好きな花は？,ひまわり\r\n".encode(
    "cp932"
)


async def augment_japanese_sheet(fake_discord, workshop, locale):
    return await (
        await fake_discord.invoke(
            "augment",
            {
                "file": fake_discord.attachment("挨拶.csv", JAPANESE_SHEET),
                "method": "duplicate",
                "count": 2,
                "system_prompt": "あなたはロボットです。",
            },
            user=workshop.staff,
            locale=locale,
        )
    ).wait_response()


async def test_a_japanese_sheet_gets_a_japanese_summary_for_a_japanese_reader(
    kobo, fake_discord, workshop
):
    reply = await augment_japanese_sheet(fake_discord, workshop, "ja")
    assert not reply.ephemeral
    for line in (
        "**挨拶.csv** → データセット **#1**（duplicate、count 2）",
        "- 読み込んだ行: 3行",
        "- 飛ばした行: 1行（3行目: アシスタントの欄が空です）",
        "- できた例: 4件（元の例 2件 + duplicate で増やした例 2件）",
        "- 飛ばした行も使うには、その行を直してから、もう一度送ってください。",
        "`/train dataset:1` で学習を始められます。",
    ):
        assert line in reply.content.splitlines(), reply.content
    lines = [json.loads(x) for x in reply.file("挨拶-duplicate.jsonl").data.splitlines()]
    assert [x["messages"][1]["content"] for x in lines] == ["こんにちは", "好きな花は？"] * 2
    assert [x["messages"][2]["content"] for x in lines[:2]] == ["やあ！", "ひまわり"]


async def test_the_same_sheet_reads_in_english_for_an_english_reader(kobo, fake_discord, workshop):
    reply = await augment_japanese_sheet(fake_discord, workshop, "en-US")
    for line in (
        "**挨拶.csv** → dataset **#1** (duplicate, count 2)",
        "- rows read: 3",
        "- skipped: 1 (row 3: assistant is empty)",
        "- examples out: 4 (2 original + 2 duplicate)",
        "Train on it with `/train dataset:1`.",
    ):
        assert line in reply.content.splitlines(), reply.content


async def test_a_sheet_without_usable_rows_is_explained_in_the_readers_language(
    kobo, fake_discord, workshop
):
    rows = [("システム", "ユーザー", "アシスタント"), ("s", "元気？", None)]
    sheet = workbook_bytes([("LearningData", rows)])
    replies = {}
    for locale in ("ja", "en-US"):
        replies[locale] = await (
            await fake_discord.invoke(
                "augment",
                {
                    "file": fake_discord.attachment("robot.xlsx", sheet),
                    "method": "bert",
                    "count": 3,
                },
                user=workshop.staff,
                locale=locale,
            )
        ).wait_response()
    assert replies["ja"].content == (
        "robot.xlsx の「LearningData」シート: 使える行がありません（2行目: アシスタントの欄が"
        "空です）。その行を直してから、もう一度送ってください。"
    )
    assert replies["en-US"].content == (
        "robot.xlsx, sheet 'LearningData': no usable rows (row 2: assistant is empty)."
    )
    assert await kobo.services.datasets.count() == 0


async def test_augment_reads_in_japanese_in_the_command_picker(kobo, fake_discord, workshop):
    command = fake_discord.synced_command("augment", workshop.guild)
    assert command["description_localizations"]["ja"] == text("command.augment.description", "ja")
    options = {option["name"]: option for option in command["options"]}
    assert options["count"]["description_localizations"]["ja"] == "データを最大で何倍にするか"
    methods = {c["value"]: c["name_localizations"]["ja"] for c in options["method"]["choices"]}
    assert methods == {
        "duplicate": text("choice.augment_method.duplicate", "ja"),
        "bert": text("choice.augment_method.bert", "ja"),
    }
    copies = {c["value"]: c["name"] for c in options["review_copy"]["choices"]}
    assert copies == {"csv": "CSV", "xlsx": "Excel workbook (.xlsx)"}


async def test_the_first_bert_run_says_the_model_is_downloading(
    kobo, fake_discord, workshop, tmp_path, monkeypatch
):
    repo = "kobo-tests/tiny-bert"
    folder = tmp_path / "hub-model"
    build_model(folder, japanese_tokenizer(folder), rigged=JAPANESE_RIGGED)
    async with FakeHub(repo, folder) as hub:
        hub.use_in(monkeypatch, tmp_path / "hf-cache")
        hub.hold("model.safetensors")  # the weights stop half-way until the test has looked
        kobo.settings.augment_model = repo
        running = await fake_discord.invoke(
            "augment",
            {
                "file": fake_discord.attachment("robot.xlsx", workshop_sheet()),
                "method": "bert",
                "count": 3,
            },
            user=workshop.staff,
            locale="ja",
        )
        public = await running.wait_for(
            lambda i: i.original if i.original and "ダウンロード" in i.original.content else None
        )
        assert re.fullmatch(r"モデルをダウンロードしています… \(\d+\.\d MB\)", public.content)
        assert not public.ephemeral
        hub.release()
        done = await running.wait_for(
            lambda i: i.original if i.original and i.original.attachments else None
        )
    clear_cache()
    assert done.id == public.id
    assert "データセット **#1**" in done.content
    assert "- 読み込んだ行: 3行" in done.content.splitlines()
    assert "新しくできた文の例:" in done.content.splitlines()
    assert len(done.file("robot-bert.jsonl").data.splitlines()) == 6
