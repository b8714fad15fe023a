from __future__ import annotations

import io
import zipfile

import pytest

from augment import InputError, ReadLimits, SkippedRow, read_sheet
from tests.augment.sheets import SYSTEM, with_cached_value, workbook_bytes

LIMITS = ReadLimits(max_bytes=1_000_000, max_rows=100)


def users(result) -> list[str]:
    return [example.content_of("user") for example in result.examples]


def template() -> bytes:
    """Like the workshop template: an instructions sheet first, LearningData second, an empty
    Sheet1 last; header with odd case and spaces; formatted blank rows; half-filled rows."""
    learning = [
        [" System ", "USER", "assistant  "],
        [SYSTEM, "こんにちは", "こんにちは。いい天気だね"],
        [SYSTEM, "好きな食べ物はなんですか。", "電気！"],
        [None, None, None],
        [SYSTEM, "何歳ですか？", None],  # row 5: half-filled
        [SYSTEM, 3, 100],  # numbers typed into cells
        [SYSTEM, None, "元気だよ！"],  # row 7: half-filled
        [SYSTEM, '=B2&"！"', "数式の答え"],  # row 8: a formula, saved by Excel with its value
    ]
    data = workbook_bytes(
        [
            ("説明", [["このシートに書かないでください"]]),
            ("LearningData", learning),
            ("Sheet1", []),
        ],
        formatted_rows=300,
    )
    return with_cached_value(data, "B8", "こんにちは！")


def test_template_rows_become_examples_and_half_filled_rows_are_reported() -> None:
    result = read_sheet(template(), "ワークショップ.xlsx", default_system=None, limits=LIMITS)

    assert users(result) == ["こんにちは", "好きな食べ物はなんですか。", "3", "こんにちは！"]
    assert result.examples[2].content_of("assistant") == "100"
    assert result.examples[0].to_json_object() == {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "こんにちは"},
            {"role": "assistant", "content": "こんにちは。いい天気だね"},
        ]
    }
    assert result.skipped == [
        SkippedRow(5, "assistant is empty"),
        SkippedRow(7, "user is empty"),
    ]
    assert str(result.skipped[0]) == "row 5: assistant is empty"
    assert result.rows_read == 6


def test_formula_without_a_saved_value_is_an_empty_cell_not_formula_text() -> None:
    data = workbook_bytes(
        [("LearningData", [["system", "user", "assistant"], ["s", "=1+2", "a"], ["s", "u", "a"]])]
    )
    result = read_sheet(data, "f.xlsx", default_system=None, limits=LIMITS)
    assert users(result) == ["u"]
    assert result.skipped == [SkippedRow(2, "user is empty")]


def test_excel_error_cell_skips_the_row_naming_the_column() -> None:
    data = workbook_bytes(
        [("LearningData", [["system", "user", "assistant"], ["s", "u", "#REF!"], ["s", "u2", "a"]])]
    )
    result = read_sheet(data, "e.xlsx", default_system=None, limits=LIMITS)
    assert users(result) == ["u2"]
    assert result.skipped == [SkippedRow(2, "assistant (column C) shows the Excel error #REF!")]


def test_without_learning_data_the_first_sheet_with_a_header_is_used() -> None:
    data = workbook_bytes(
        [
            ("Sheet1", []),
            ("メモ", [["メモだけ"]]),
            ("Data", [["user", "assistant", "system"], ["u", "a", "s"]]),
        ]
    )
    result = read_sheet(data, "d.xlsx", default_system=None, limits=LIMITS)
    assert [(e.content_of("system"), e.content_of("user")) for e in result.examples] == [("s", "u")]


def test_header_below_a_title_keeps_excel_row_numbers() -> None:
    rows = [["スタックチャン学習データ"], [], ["system", "user", "assistant"], ["s", "u", None]]
    rows.append(["s", "u2", "a2"])
    data = workbook_bytes([("LearningData", rows)])
    result = read_sheet(data, "t.xlsx", default_system=None, limits=LIMITS)
    assert users(result) == ["u2"]
    assert result.skipped == [SkippedRow(4, "assistant is empty")]


def test_missing_system_column_uses_the_default_system_prompt() -> None:
    data = workbook_bytes([("LearningData", [["user", "assistant"], ["u", "a"]])])
    result = read_sheet(data, "n.xlsx", default_system="  あなたはロボット  ", limits=LIMITS)
    assert result.examples[0].content_of("system") == "あなたはロボット"


def test_empty_system_cell_uses_the_default_or_is_reported() -> None:
    data = workbook_bytes([("LearningData", [["system", "user", "assistant"], [None, "u", "a"]])])
    with_default = read_sheet(data, "s.xlsx", default_system="既定", limits=LIMITS)
    assert with_default.examples[0].content_of("system") == "既定"

    with pytest.raises(InputError) as error:
        read_sheet(data, "s.xlsx", default_system=None, limits=LIMITS)
    assert "row 2: system is empty and no default system prompt was given" in str(error.value)


def test_no_system_column_and_no_default_is_an_error() -> None:
    data = workbook_bytes([("LearningData", [["user", "assistant"], ["u", "a"]])])
    with pytest.raises(InputError, match=r"n\.xlsx, sheet 'LearningData': there is no system col"):
        read_sheet(data, "n.xlsx", default_system="   ", limits=LIMITS)


def test_learning_data_missing_a_column_says_which() -> None:
    data = workbook_bytes(
        [("LearningData", [["system", "user", "answer"], ["s", "u", "a"]]), ("Other", [])]
    )
    with pytest.raises(InputError) as error:
        read_sheet(data, "m.xlsx", default_system=None, limits=LIMITS)
    assert str(error.value) == (
        "m.xlsx, sheet 'LearningData', header row 1: missing column(s) assistant "
        "(found system (column A), user (column B))."
    )


def test_a_column_named_twice_is_an_error() -> None:
    data = workbook_bytes([("LearningData", [["system", "user", "assistant", "User"]])])
    with pytest.raises(InputError, match="'user' appears twice \\(column B and column D\\)"):
        read_sheet(data, "twice.xlsx", default_system=None, limits=LIMITS)


def test_no_sheet_with_a_header_lists_the_sheets() -> None:
    data = workbook_bytes([("Sheet1", [["質問", "答え"]]), ("Sheet2", [])])
    with pytest.raises(InputError) as error:
        read_sheet(data, "h.xlsx", default_system=None, limits=LIMITS)
    message = str(error.value)
    assert message.startswith("h.xlsx: no sheet has a header row")
    assert "'Sheet1', 'Sheet2'" in message


def test_learning_data_without_header_shows_what_is_there() -> None:
    data = workbook_bytes([("LearningData", [["質問", "答え"], ["こんにちは", "やあ"]])])
    with pytest.raises(InputError) as error:
        read_sheet(data, "h.xlsx", default_system=None, limits=LIMITS)
    assert "h.xlsx, sheet 'LearningData': no header row" in str(error.value)
    assert "row 1 has: 質問, 答え" in str(error.value)


def test_sheet_with_only_blank_and_half_filled_rows_is_refused() -> None:
    rows = [["system", "user", "assistant"], ["s", "u", None], [None, None, None], ["s", None, "a"]]
    data = workbook_bytes([("LearningData", rows)], formatted_rows=50)
    with pytest.raises(InputError) as error:
        read_sheet(data, "half.xlsx", default_system=None, limits=LIMITS)
    assert str(error.value) == (
        "half.xlsx, sheet 'LearningData': no usable rows "
        "(row 2: assistant is empty; row 4: user is empty)."
    )

    blank = workbook_bytes([("LearningData", [["system", "user", "assistant"]])], formatted_rows=50)
    with pytest.raises(InputError, match="no usable rows \\(every row below the header is blank"):
        read_sheet(blank, "blank.xlsx", default_system=None, limits=LIMITS)


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04 this is not really a zip", b"hello, I am a text file", b"\x00" * 100],
)
def test_corrupt_workbook_gets_a_clear_message(data: bytes) -> None:
    with pytest.raises(InputError) as error:
        read_sheet(data, "壊れた.xlsx", default_system=None, limits=LIMITS)
    assert str(error.value).startswith("壊れた.xlsx: cannot be read as an Excel workbook")


def test_truncated_workbook_gets_a_clear_message() -> None:
    data = template()
    with pytest.raises(InputError, match=r"^cut\.xlsx: cannot be read"):
        read_sheet(data[: len(data) // 2], "cut.xlsx", default_system=None, limits=LIMITS)


def test_row_limit_counts_filled_rows_and_stops() -> None:
    rows = [["system", "user", "assistant"]] + [["s", f"u{i}", "a"] for i in range(10)]
    data = workbook_bytes([("LearningData", rows)], formatted_rows=500)
    at_limit = ReadLimits(max_bytes=1_000_000, max_rows=10)
    assert len(read_sheet(data, "r.xlsx", default_system=None, limits=at_limit).examples) == 10
    with pytest.raises(InputError, match=r"^r\.xlsx, sheet 'LearningData': more than 9 rows"):
        read_sheet(data, "r.xlsx", default_system=None, limits=ReadLimits(1_000_000, 9))


def test_byte_limit_is_checked_before_parsing() -> None:
    # Not a workbook at all: the size message proves nothing tried to parse it.
    with pytest.raises(InputError) as error:
        read_sheet(b"x" * 2_001, "big.xlsx", default_system=None, limits=ReadLimits(2_000, 10))
    assert str(error.value) == (
        "big.xlsx: the file is 2,001 bytes, over the limit of 2,000; split it into smaller files."
    )


def test_workbook_that_unpacks_to_far_more_than_its_size_is_refused() -> None:
    data = workbook_bytes([("LearningData", [["system", "user", "assistant"], ["s", "u", "a"]])])
    source = zipfile.ZipFile(io.BytesIO(data))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/media/padding.bin", b"\0" * 5_000_000)
    assert len(bomb.getvalue()) < 30_000
    with pytest.raises(
        InputError, match=r"^bomb\.xlsx: the workbook unpacks to 5,0\d\d,\d\d\d bytes"
    ):
        read_sheet(bomb.getvalue(), "bomb.xlsx", default_system=None, limits=ReadLimits(30_000, 10))
