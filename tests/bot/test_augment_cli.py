"""``python -m bot augment``: the same engine as /augment, from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.augment.conftest import JAPANESE_RIGGED
from tests.augment.models import build_model, japanese_tokenizer
from tests.augment.sheets import SYSTEM, workbook_bytes

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
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
        timeout=120,
    )


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
