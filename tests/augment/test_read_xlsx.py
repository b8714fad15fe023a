from __future__ import annotations

import io
import zipfile

import pytest

from augment import InputError, ReadLimits, read_sheet
from tests.augment.sheets import SYSTEM, handmade_workbook, with_cached_value, workbook_bytes

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
    assert [str(skip) for skip in result.skipped] == [
        "row 5: assistant is empty",
        "row 7: user is empty",
    ]
    assert result.skipped[0].message.render("ja") == "5行目: アシスタントの欄が空です"
    assert result.rows_read == 6


def test_formula_without_a_saved_value_is_an_empty_cell_not_formula_text() -> None:
    data = workbook_bytes(
        [("LearningData", [["system", "user", "assistant"], ["s", "=1+2", "a"], ["s", "u", "a"]])]
    )
    result = read_sheet(data, "f.xlsx", default_system=None, limits=LIMITS)
    assert users(result) == ["u"]
    assert [str(skip) for skip in result.skipped] == ["row 2: user is empty"]


def test_excel_error_cell_skips_the_row_naming_the_column() -> None:
    data = workbook_bytes(
        [("LearningData", [["system", "user", "assistant"], ["s", "u", "#REF!"], ["s", "u2", "a"]])]
    )
    result = read_sheet(data, "e.xlsx", default_system=None, limits=LIMITS)
    assert users(result) == ["u2"]
    assert [str(skip) for skip in result.skipped] == [
        "row 2: assistant (column C) shows the Excel error #REF!"
    ]
    assert result.skipped[0].message.render("ja") == (
        "2行目: C列（アシスタント）に Excel のエラー #REF! が出ています"
    )


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
    assert [str(skip) for skip in result.skipped] == ["row 4: assistant is empty"]


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
        "(found system (column A) and user (column B))."
    )


def test_a_column_named_twice_is_an_error() -> None:
    data = workbook_bytes([("LearningData", [["system", "user", "assistant", "User"]])])
    with pytest.raises(
        InputError, match="the column user appears twice \\(column B and column D\\); keep one"
    ):
        read_sheet(data, "twice.xlsx", default_system=None, limits=LIMITS)


def test_no_sheet_with_a_header_lists_the_sheets() -> None:
    data = workbook_bytes([("Sheet1", [["名前", "メモ"]]), ("Sheet2", [])])
    with pytest.raises(InputError) as error:
        read_sheet(data, "h.xlsx", default_system=None, limits=LIMITS)
    message = str(error.value)
    assert message.startswith("h.xlsx: no sheet has a header row")
    assert "(looked in sheet 'Sheet1' and sheet 'Sheet2')" in message
    assert error.value.render("ja").startswith(
        "h.xlsx: 「システム」「ユーザー」「アシスタント」の見出しがあるシートが見つかりません"
        "（「Sheet1」シートと「Sheet2」シートを見ました）。"
    )


def test_learning_data_without_header_shows_what_is_there() -> None:
    data = workbook_bytes([("LearningData", [["名前", "メモ"], ["こんにちは", "やあ"]])])
    with pytest.raises(InputError) as error:
        read_sheet(data, "h.xlsx", default_system=None, limits=LIMITS)
    assert "h.xlsx, sheet 'LearningData': no header row" in str(error.value)
    assert "row 1 has: 名前, メモ" in str(error.value)


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


HEADER_AND_ONE_ROW = (
    b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
    b'<c r="C1" t="s"><v>2</v></c></row>'
    b'<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" t="s"><v>3</v></c>'
    b'<c r="C2" t="s"><v>3</v></c></row>'
)
HEADER_STRINGS = [b"<si><t>system</t></si><si><t>user</t></si><si><t>assistant</t></si>"]
# The header's texts and "x", the text of row 2.
TEXTS = [*HEADER_STRINGS, b"<si><t>x</t></si>"]


def test_millions_of_tiny_texts_are_refused_before_openpyxl_loads_them() -> None:
    # 2,000,000 shared strings zip to a few hundred KB; openpyxl would spend a minute and a GB
    # loading them before the first row. Real limits: the default settings.
    tiny = b"".join(b"<si><t>%d</t></si>" % (i % 1000) for i in range(1000))
    data = handmade_workbook(HEADER_AND_ONE_ROW, [*HEADER_STRINGS, *[tiny] * 2000])
    assert len(data) < 500_000
    with pytest.raises(InputError) as error:
        read_sheet(data, "many.xlsx", default_system=None, limits=ReadLimits())
    assert str(error.value) == (
        "many.xlsx: the workbook holds more than 50,200 texts, more than the row limit could "
        "need; delete unused sheets and cells, or split it."
    )


def test_texts_within_what_the_row_limit_needs_are_read() -> None:
    # (100 rows + 20 header rows) x 10 texts a row: 1,200 is the most LIMITS allows.
    fillers = [b"<si><t>n%d</t></si>" % i for i in range(1_200 - 4)]
    data = handmade_workbook(HEADER_AND_ONE_ROW, [*HEADER_STRINGS, b"<si><t>x</t></si>", *fillers])
    assert users(read_sheet(data, "ok.xlsx", default_system=None, limits=LIMITS)) == ["x"]
    one_more = handmade_workbook(
        HEADER_AND_ONE_ROW, [*HEADER_STRINGS, b"<si><t>x</t></si>", *fillers, b"<si><t>!</t></si>"]
    )
    with pytest.raises(InputError, match=r"^more\.xlsx: the workbook holds more than 1,200 texts"):
        read_sheet(one_more, "more.xlsx", default_system=None, limits=LIMITS)


def test_a_row_after_a_long_blank_stretch_is_reported_not_dropped() -> None:
    far = b'<row r="12005"><c r="B12005" t="s"><v>3</v></c><c r="C12005" t="s"><v>3</v></c></row>'
    data = handmade_workbook(HEADER_AND_ONE_ROW + far, TEXTS)
    with pytest.raises(InputError) as error:
        read_sheet(data, "gap.xlsx", default_system=None, limits=LIMITS)
    assert str(error.value) == (
        "gap.xlsx, sheet 'LearningData': row 12005 comes after 10,000 blank rows, and reading "
        "stops at such a gap; delete the blank rows above it."
    )
    assert error.value.render("ja") == (
        "gap.xlsx の「LearningData」シート: 12005行目の前に 10,000 行の空行が続いていて、"
        "読み込みがそこで止まります。上の空行を消してから、もう一度送ってください。"
    )


def test_formatted_rows_and_empty_formula_results_far_below_are_not_values() -> None:
    # Template rows formatted (and a formula filled down, showing "") far past the data.
    below = b"".join(
        b'<row r="%d"><c r="A%d" s="1"/><c r="D%d" t="str"><f>IF(B%d="","",1)</f><v></v></c></row>'
        % (row, row, row, row)
        for row in range(3, 12_003)
    )
    data = handmade_workbook(HEADER_AND_ONE_ROW + below, TEXTS)
    assert users(read_sheet(data, "tidy.xlsx", default_system=None, limits=LIMITS)) == ["x"]


def test_millions_of_cells_are_refused_before_openpyxl_parses_them() -> None:
    # 2,000,000 number cells (no shared strings) zip to a few hundred KB; openpyxl would spend
    # minutes on them. Real limits: the default settings.
    row = b"<row>" + b"<c><v>7</v></c>" * 1_000 + b"</row>"
    data = handmade_workbook([HEADER_AND_ONE_ROW, *[row] * 2_000], TEXTS)
    assert len(data) < 500_000
    with pytest.raises(InputError) as error:
        read_sheet(data, "wide.xlsx", default_system=None, limits=ReadLimits())
    assert str(error.value) == (
        "wide.xlsx: the workbook holds more than 150,200 cells, more than the row limit could "
        "need (most in sheet 'LearningData'); delete unused rows and columns, formatted empty "
        "cells too, or split it."
    )


def formatted_blank_rows(cells: int) -> list[bytes]:
    """``cells`` formatted empty cells, ten to a row, in the rows below HEADER_AND_ONE_ROW."""
    rows = []
    for row in range(3, 3 + (cells + 9) // 10):
        count = min(10, cells - (row - 3) * 10)
        rows.append(b'<row r="%d">' % row + b'<c s="1"/>' * count + b"</row>")
    return rows


def test_cells_within_what_the_row_limit_needs_are_read() -> None:
    # (20 header rows + 100 rows + 10,000 blank rows) x 10 columns: 101,200 is the most LIMITS
    # allows. HEADER_AND_ONE_ROW holds 6 cells.
    data = handmade_workbook([HEADER_AND_ONE_ROW, *formatted_blank_rows(101_194)], TEXTS)
    assert users(read_sheet(data, "ok.xlsx", default_system=None, limits=LIMITS)) == ["x"]
    one_more = handmade_workbook([HEADER_AND_ONE_ROW, *formatted_blank_rows(101_195)], TEXTS)
    with pytest.raises(
        InputError, match=r"^more\.xlsx: the workbook holds more than 101,200 cells"
    ):
        read_sheet(one_more, "more.xlsx", default_system=None, limits=LIMITS)


def test_cells_outside_the_sheets_are_counted_and_the_part_named() -> None:
    crowded = zipfile.ZipFile(io.BytesIO(handmade_workbook(HEADER_AND_ONE_ROW, TEXTS)))
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as target:
        for item in crowded.infolist():
            target.writestr(item, crowded.read(item.filename))
        target.writestr("xl/hidden.xml", b"<x>" + b"<c/>" * 101_195 + b"</x>")
    with pytest.raises(InputError) as error:
        read_sheet(data.getvalue(), "hidden.xlsx", default_system=None, limits=LIMITS)
    assert "(most in the part xl/hidden.xml)" in str(error.value)


def test_columns_after_j_are_not_read() -> None:
    # A row whose only value is in column XFD is blank to the reader (it is not one of the rows
    # the limit counts), instead of 16,384 cells to walk.
    far_right = [b'<row r="%d"><c r="XFD%d"><v>1</v></c></row>' % (row, row) for row in (3, 4, 5)]
    data = handmade_workbook([HEADER_AND_ONE_ROW, *far_right], TEXTS)
    limits = ReadLimits(max_bytes=1_000_000, max_rows=2)
    assert users(read_sheet(data, "notes.xlsx", default_system=None, limits=limits)) == ["x"]


def test_millions_of_empty_rows_are_refused_before_openpyxl_parses_them() -> None:
    # 5,000,000 empty rows zip to under 100 KB and hold no cell at all; openpyxl would spend
    # seconds and hundreds of MB walking them. Real limits: the default settings.
    data = handmade_workbook([HEADER_AND_ONE_ROW, b"<row/>" * 5_000_000], TEXTS)
    assert len(data) < 100_000
    with pytest.raises(InputError) as error:
        read_sheet(data, "tall.xlsx", default_system=None, limits=ReadLimits())
    assert str(error.value) == (
        "tall.xlsx: the workbook holds more than 150,200 rows, far more than the row limit could "
        "need (most in sheet 'LearningData'); delete the unused rows below your data (formatted "
        "empty rows too), or split it."
    )
    assert error.value.render("ja").startswith("tall.xlsx: ブックに 150,200 を超える行があり")


def test_rows_within_ten_times_what_the_reader_walks_are_read() -> None:
    # (20 header rows + 100 rows + 10,000 blank rows) x 10: 101,200 rows is the most LIMITS
    # allows; HEADER_AND_ONE_ROW holds 2.
    data = handmade_workbook([HEADER_AND_ONE_ROW, b"<row/>" * 101_198], TEXTS)
    assert users(read_sheet(data, "ok.xlsx", default_system=None, limits=LIMITS)) == ["x"]
    one_more = handmade_workbook([HEADER_AND_ONE_ROW, b"<row/>" * 101_199], TEXTS)
    with pytest.raises(InputError, match=r"^more\.xlsx: the workbook holds more than 101,200 rows"):
        read_sheet(one_more, "more.xlsx", default_system=None, limits=LIMITS)
