"""``python -m bot augment``: the same engine as /augment, from a shell."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from i18n import text
from storage.database import Database
from storage.datasets import DatasetRepository
from tests.augment.conftest import JAPANESE_RIGGED
from tests.augment.models import build_model, japanese_tokenizer
from tests.augment.sheets import SYSTEM, workbook_bytes
from tests.ceilings import PROCESS_SECONDS

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, cwd: Path, max_file_bytes: int | None = None, **env: str
) -> subprocess.CompletedProcess:
    """``max_file_bytes``: the most a file the CLI writes may grow (RLIMIT_FSIZE): a full disk."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AUGMENT_"))},
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "augment", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        preexec_fn=None if max_file_bytes is None else lambda: _limit_files(max_file_bytes),
    )


def _limit_files(size: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.fixture(scope="module")
def rigged_model(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("cli-model")
    return build_model(directory, japanese_tokenizer(directory), rigged=JAPANESE_RIGGED)


def test_bert_from_a_workbook_writes_jsonl_and_a_review_copy(tmp_path, rigged_model):
    sheet = tmp_path / "robot.xlsx"
    sheet.write_bytes(
        workbook_bytes(
            [
                ("Sheet1", []),
                (
                    "LearningData",
                    [
                        ("system", "user", "assistant"),
                        (SYSTEM, "公園で犬と遊びたい。", "いいね！"),
                        (SYSTEM, "好きな花は何？", None),
                    ],
                ),
            ]
        )
    )
    result = run_cli(
        "robot.xlsx", "--method", "bert", "--count", "3", "--model", str(rigged_model),
        "-o", "out.jsonl", "--review", "out.xlsx", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rows read: 2" in result.stdout
    assert "skipped: 1 (row 3: assistant is empty)" in result.stdout
    assert "examples out: 3 (1 original + 2 bert)" in result.stdout
    assert "wrote out.jsonl and out.xlsx" in result.stdout
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert lines[0]["messages"][1]["content"] == "公園で犬と遊びたい。"  # the original first
    assert len(lines) == 3 and (tmp_path / "out.xlsx").read_bytes().startswith(b"PK")


def test_duplicate_defaults_the_output_name(tmp_path):
    (tmp_path / "q.csv").write_text("system,user,assistant\ns,hi,yo\n", encoding="utf-8")
    result = run_cli("q.csv", "--method", "duplicate", "--count", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "q-duplicate.jsonl").read_text("utf-8").splitlines()) == 2


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"user,answer\nhi,yo\n", (), "q.csv"),
        (b"system,user,assistant\ns,hi,yo\n", ("--count", "0"), "count must be at least 1"),
        (
            b"system,user,assistant\ns,hi,yo\n",
            ("--method", "bert", "--model", "/nonexistent/model"),
            "cannot load the fill-mask model",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, content, args, message):
    (tmp_path / "q.csv").write_bytes(content)
    result = run_cli("q.csv", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "q-duplicate.jsonl").exists()


GOOD_LINE = (
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
)


# Once a traceback from the reader (int() refuses 5,000 digits) and one from the writer (UTF-8
# cannot encode a lone surrogate); the other hostile lines take the same path (test_read_jsonl).
@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"n": ' + "9" * 5000 + "}", "q.jsonl, line 2: a number is 5,000 characters long"),
        (GOOD_LINE.replace("hi", "\\ud800"), "q.jsonl, line 2: a string holds \\ud800"),
    ],
)
def test_jsonl_that_is_not_strict_json_exits_2_naming_the_line(tmp_path, bad_line, message):
    (tmp_path / "q.jsonl").write_text(f"{GOOD_LINE}\n{bad_line}\n", encoding="utf-8")
    result = run_cli("q.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "q-duplicate.jsonl").exists()


def test_missing_and_oversized_files_are_refused_before_reading(tmp_path):
    missing = run_cli("nope.xlsx", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.xlsx" in missing.stderr
    (tmp_path / "big.csv").write_bytes(b"x" * 2000)
    big = run_cli("big.csv", cwd=tmp_path, AUGMENT_MAX_FILE_BYTES="1000")
    assert big.returncode == 2
    assert "2,000 bytes is over the limit of 1,000 (AUGMENT_MAX_FILE_BYTES)" in big.stderr


QUESTIONS = "system,user,assistant\n" + "".join(f"s,question {i},answer {i}\n" for i in range(200))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            ("--top-k", "0"),
            "--top-k 0 is invalid: it must be between 1 and 100 (as for AUGMENT_TOP_K)",
        ),
        (("--batch-size", "0"), "--batch-size 0 is invalid: it must be between 1 and 1024"),
        (
            ("--batch-size", "100000"),
            "--batch-size 100000 is invalid: it must be between 1 and 1024 "
            "(as for AUGMENT_BATCH_SIZE)",
        ),
    ],
)
def test_options_are_held_to_the_bounds_of_their_settings(tmp_path, option, message):
    (tmp_path / "q.csv").write_text(QUESTIONS, encoding="utf-8")
    result = run_cli("q.csv", "--method", "bert", "--model", "/nonexistent/model", *option,
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kobo augment: {message}")


def test_outputs_that_would_overwrite_the_sheet_or_each_other_are_refused(tmp_path):
    sheet = tmp_path / "q.csv"
    sheet.write_text(QUESTIONS, encoding="utf-8")
    os.link(sheet, tmp_path / "hardlink.csv")
    (tmp_path / "symlink.csv").symlink_to(sheet)
    cases = [
        (("-o", "q.csv"), "-o q.csv is the input q.csv"),
        (("-o", "hardlink.csv"), "-o hardlink.csv is the input q.csv"),
        (("-o", "out.jsonl", "--review", "symlink.csv"), "--review symlink.csv is the input q.csv"),
        (("-o", "out.csv", "--review", "./out.csv"), "--review out.csv is the -o file too"),
    ]
    for args, message in cases:
        result = run_cli("q.csv", *args, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    assert sheet.read_text(encoding="utf-8") == QUESTIONS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hardlink.csv", "q.csv", "symlink.csv"]


def test_devices_and_pipes_are_refused_as_input_and_output(tmp_path):
    (tmp_path / "zero.csv").symlink_to("/dev/zero")  # would be read for ever
    os.mkfifo(tmp_path / "pipe.csv")  # opening it would wait for a writer for ever
    (tmp_path / "q.csv").write_text(QUESTIONS, encoding="utf-8")
    for args, message in [
        (("zero.csv",), "zero.csv: not a regular file"),
        (("pipe.csv",), "pipe.csv: not a regular file"),
        (("q.csv", "-o", "pipe.csv"), "-o pipe.csv: not a regular file"),
    ]:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


def test_a_failed_write_keeps_the_old_output_and_leaves_nothing_new(tmp_path):
    (tmp_path / "q.csv").write_text(QUESTIONS, encoding="utf-8")
    (tmp_path / "out.jsonl").write_bytes(b"the good old file\n")

    full_disk = run_cli("q.csv", "-o", "out.jsonl", cwd=tmp_path, max_file_bytes=1_000)
    assert full_disk.returncode == 2 and "cannot write the output" in full_disk.stderr

    no_folder = run_cli("q.csv", "-o", "out.jsonl", "--review", "gone/r.csv", cwd=tmp_path)
    assert no_folder.returncode == 2 and "cannot write the output" in no_folder.stderr

    assert (tmp_path / "out.jsonl").read_bytes() == b"the good old file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "q.csv"]  # no temp files


def test_outputs_through_a_symlink_update_the_file_it_points_at(tmp_path):
    (tmp_path / "q.csv").write_text(QUESTIONS, encoding="utf-8")
    (tmp_path / "real.jsonl").write_bytes(b"old\n")
    (tmp_path / "link.jsonl").symlink_to("real.jsonl")
    result = run_cli("q.csv", "--count", "2", "-o", "link.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.jsonl").is_symlink()
    assert len((tmp_path / "real.jsonl").read_text("utf-8").splitlines()) == 400


def test_a_hub_model_without_network_fails_at_once_and_says_how_to_use_a_folder(
    tmp_path, rigged_model
):
    with socket.socket() as probe:  # a port nothing listens on: the Hub cannot be reached
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    no_hub = {
        "HF_HUB_OFFLINE": "",
        "HF_ENDPOINT": f"http://127.0.0.1:{closed}",
        "HF_HOME": str(tmp_path / "empty-cache"),
    }
    (tmp_path / "q.csv").write_text("system,user,assistant\ns,公園で犬と遊びたい。,うん\n", "utf-8")

    result = run_cli("q.csv", "--method", "bert", cwd=tmp_path, **no_hub)
    assert result.returncode == 2
    assert (
        "kobo augment: cannot load the fill-mask model 'tohoku-nlp/bert-base-japanese-v3' "
        "(AUGMENT_MODEL): it is not in the local cache and the Hugging Face Hub "
        f"(http://127.0.0.1:{closed}) cannot be reached. Download it once on a machine with "
        "internet access (it is kept in HF_HOME), or set AUGMENT_MODEL to a local folder"
    ) in result.stderr
    assert "Retry" not in result.stderr and "Traceback" not in result.stderr

    local = run_cli("q.csv", "--method", "bert", cwd=tmp_path, AUGMENT_MODEL=str(rigged_model),
                    **no_hub)  # fmt: skip
    assert local.returncode == 0, local.stderr
    assert "examples out: 3 (1 original + 2 bert)" in local.stdout


def test_a_capped_count_is_said_and_copies_are_not_shown_as_samples(tmp_path):
    (tmp_path / "q.csv").write_text("system,user,assistant\ns,hi,yo\n", encoding="utf-8")
    result = run_cli(
        "q.csv", "--method", "duplicate", "--count", "30", cwd=tmp_path,
        AUGMENT_MAX_NEW_PER_ROW="5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "examples out: 6 (1 original + 5 duplicate)" in result.stdout
    assert "count 30 was capped to 6 (AUGMENT_MAX_NEW_PER_ROW = 5 new per row)" in result.stdout
    assert "sample" not in result.stdout


JAPANESE_SHEET = "質問,答え\nこんにちは,やあ\n元気？,\n".encode()
# The locale variables that gettext reads before LANG, emptied so LANG decides.
LANG_ONLY = {"LC_ALL": "", "LC_MESSAGES": "", "LANGUAGE": "", "KOBO_LANGUAGE": ""}


def test_output_follows_lang_japanese_for_ja_jp_english_for_c(tmp_path):
    (tmp_path / "q.csv").write_bytes(JAPANESE_SHEET)
    args = ("q.csv", "--system", "s", "--count", "2")
    japanese = run_cli(*args, cwd=tmp_path, **{**LANG_ONLY, "LANG": "ja_JP.UTF-8"})
    assert japanese.returncode == 0, japanese.stderr
    assert japanese.stdout.splitlines() == [
        "読み込んだ行: 2行",
        "飛ばした行: 1行（3行目: アシスタントの欄が空です）",
        "できた例: 2件（元の例 1件 + duplicate で増やした例 1件）",
        "飛ばした行も使うには、その行を直してから、もう一度送ってください。",
        "q-duplicate.jsonl に書き出しました",
    ]
    english = run_cli(*args, cwd=tmp_path, **{**LANG_ONLY, "LANG": "C"})
    assert english.returncode == 0, english.stderr
    assert english.stdout.splitlines()[:3] == [
        "rows read: 2",
        "skipped: 1 (row 3: assistant is empty)",
        "examples out: 2 (1 original + 1 duplicate)",
    ]
    assert english.stdout.splitlines()[-1] == "wrote q-duplicate.jsonl"


def test_errors_follow_lang_and_kobo_language_overrides_it(tmp_path):
    (tmp_path / "q.csv").write_bytes("名前,メモ\nこんにちは,やあ\n".encode())
    japanese = run_cli("q.csv", cwd=tmp_path, **{**LANG_ONLY, "LANG": "ja_JP.UTF-8"})
    assert japanese.returncode == 2
    assert japanese.stderr.splitlines()[-1] == (
        "kobo augment: q.csv: 最初の20行に見出しの行が見つかりません（1行目: 名前, メモ／"
        "2行目: こんにちは, やあ）。列の見出しを「システム」「ユーザー」「アシスタント」"
        "（または「質問」「答え」）にしてから、もう一度送ってください。"
    )
    (tmp_path / "good.csv").write_bytes(JAPANESE_SHEET)
    japanese_setting = {**LANG_ONLY, "LANG": "C", "KOBO_LANGUAGE": "ja"}
    forced = run_cli("good.csv", "--system", "s", "--count", "0", cwd=tmp_path, **japanese_setting)
    assert forced.returncode == 2
    assert "kobo augment: count は 1 以上にしてください（指定: 0）。" in forced.stderr
    english = run_cli("q.csv", "--top-k", "0", cwd=tmp_path, **{**LANG_ONLY, "LANG": "C"})
    assert english.stderr.strip() == (
        "kobo augment: --top-k 0 is invalid: it must be between 1 and 100 (as for AUGMENT_TOP_K)"
    )


def test_store_keeps_the_result_as_a_dataset_as_augment_does(tmp_path):
    async def open_and_close() -> None:  # the bot made its database when it first ran
        await (await Database.open(tmp_path / "data" / "kobo.sqlite3")).close()

    async def stored():
        db = await Database.open(tmp_path / "data" / "kobo.sqlite3")
        try:
            return await DatasetRepository(db, tmp_path / "data").recent()
        finally:
            await db.close()

    (tmp_path / "q.csv").write_text(QUESTIONS, encoding="utf-8")
    plain = run_cli("q.csv", "--count", "2", "--store", cwd=tmp_path, LANG="C.UTF-8")
    assert plain.returncode == 2  # no database here: refused before the work
    assert text("curation.cli.no_database", "en", path=tmp_path / "data" / "kobo.sqlite3") in (
        plain.stderr
    )
    assert not (tmp_path / "q-duplicate.jsonl").exists()

    asyncio.run(open_and_close())
    unstored = run_cli("q.csv", "--count", "2", cwd=tmp_path, LANG="C.UTF-8")
    assert unstored.returncode == 0, unstored.stderr
    assert asyncio.run(stored()) == []  # without --store the database is left alone

    result = run_cli("q.csv", "--count", "2", "--store", cwd=tmp_path, LANG="C.UTF-8")
    assert result.returncode == 0, result.stderr
    (dataset,) = asyncio.run(stored())
    assert (dataset.name, dataset.operation, dataset.method) == (
        "q-duplicate",
        "augment",
        "duplicate",
    )
    assert (dataset.example_count, dataset.created_by_name) == (400, "command line")
    assert result.stdout.splitlines()[-1] == text(
        "shell.augment.stored", "en", dataset=dataset.id, name="q-duplicate"
    )
    jsonl = (tmp_path / "q-duplicate.jsonl").read_bytes()
    assert (tmp_path / "data" / dataset.path).read_bytes() == jsonl
