"""Header names: Japanese and English, as workshops write them; the README lists them all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from augment import InputError, ReadLimits, read_sheet
from augment.table import HEADER_NAMES, column_of_header
from tests.augment.sheets import workbook_bytes

LIMITS = ReadLimits(max_bytes=100_000, max_rows=50)
README = Path(__file__).resolve().parents[2] / "README.md"


def turns(result) -> list[tuple[str, str, str]]:
    return [
        (e.content_of("system"), e.content_of("user"), e.content_of("assistant"))
        for e in result.examples
    ]


@pytest.mark.parametrize(
    "header",
    [
        ("システム", "ユーザー", "アシスタント"),
        ("システムプロンプト", "質問", "答え"),
        ("システム", "入力", "出力"),
        ("system", "しつもん", "回答"),
        # Half-width kana, full-width letters, spaces around: as typed on a Japanese keyboard.
        ("ｼｽﾃﾑ", " ＵＳＥＲ ", "\u3000返答"),
        ("SYSTEM", "ユーザ", "こたえ"),
    ],
)
def test_japanese_and_english_headers_are_read_alike(header):
    data = workbook_bytes([("LearningData", [header, ("s", "こんにちは", "やあ")])])
    result = read_sheet(data, "j.xlsx", default_system=None, limits=LIMITS)
    assert turns(result) == [("s", "こんにちは", "やあ")]


def test_every_accepted_name_maps_to_its_column_and_others_to_none():
    for column, names in HEADER_NAMES.items():
        assert {column_of_header(name) for name in names} == {column}
    assert column_of_header("名前") is None and column_of_header("question") is None


def test_two_names_for_one_column_are_refused_in_the_readers_language():
    data = "質問,ユーザー,答え\nq,u,a\n".encode()
    with pytest.raises(InputError) as error:
        read_sheet(data, "two.csv", default_system="s", limits=LIMITS)
    assert str(error.value) == (
        "two.csv, row 1: the column user appears twice (column A and column B); keep one."
    )
    assert error.value.render("ja") == (
        "two.csv 1行目: ユーザーの列が2つあります（A列とB列）。"
        "1つにしてから、もう一度送ってください。"
    )


def test_the_readme_lists_exactly_the_accepted_header_names():
    section = README.read_text("utf-8").split("## Augmenting sentences", 1)[1]
    listed = {}
    for column in HEADER_NAMES:
        line = re.search(rf"^ *\| `{column}` \|(.*)\|$", section, re.MULTILINE)
        assert line, f"no README row for the {column} column"
        listed[column] = tuple(re.findall(r"`([^`]+)`", line.group(1)))
    assert listed == HEADER_NAMES
