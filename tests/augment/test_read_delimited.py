from __future__ import annotations

import pytest

from augment import InputError, ReadLimits, read_sheet

LIMITS = ReadLimits(max_bytes=100_000, max_rows=50)
CSV_TEXT = (
    "system,user,assistant\r\n"
    "あなたはスタックチャン,こんにちは,こんにちは！\r\n"
    ",,\r\n"
    'あなたはスタックチャン,"好きな食べ物は、なに？","電気！\r\nおいしいよ"\r\n'
    "あなたはスタックチャン,元気？,\r\n"
    "あなたはスタックチャン,～ありがとう①,どういたしまして\r\n"
)
EXPECTED = [
    ("こんにちは", "こんにちは！"),
    ("好きな食べ物は、なに？", "電気！\r\nおいしいよ"),
    ("～ありがとう①", "どういたしまして"),
]


def pairs(result) -> list[tuple[str, str]]:
    return [(e.content_of("user"), e.content_of("assistant")) for e in result.examples]


@pytest.mark.parametrize(
    "data",
    [
        CSV_TEXT.encode("utf-8"),
        CSV_TEXT.encode("utf-8-sig"),
        # Japanese Excel's "CSV": cp932, with characters (～, ①) that plain Shift_JIS lacks.
        CSV_TEXT.encode("cp932"),
    ],
    ids=["utf-8", "utf-8-bom", "cp932"],
)
def test_csv_in_each_excel_encoding_reads_the_same(data: bytes) -> None:
    result = read_sheet(data, "sheet.csv", default_system=None, limits=LIMITS)
    assert pairs(result) == EXPECTED
    assert result.examples[0].content_of("system") == "あなたはスタックチャン"
    # A cell with a line break is still one row, as Excel shows it.
    assert [str(skip) for skip in result.skipped] == ["row 5: assistant is empty"]


def test_tsv_with_header_in_any_order_and_case() -> None:
    data = "Assistant\tUser \tnote\n電気！\t好きな食べ物は？\tメモ\n\t\tメモだけの行\n".encode()
    result = read_sheet(data, "sheet.TSV", default_system="既定のプロンプト", limits=LIMITS)
    assert pairs(result) == [("好きな食べ物は？", "電気！")]
    assert result.examples[0].content_of("system") == "既定のプロンプト"
    assert result.skipped == []


def test_text_that_is_neither_utf8_nor_cp932_names_the_line() -> None:
    data = b"system,user,assistant\ns,u,a\n" + b"s,\x81\xff,a\n"
    with pytest.raises(InputError) as error:
        read_sheet(data, "bad.csv", default_system=None, limits=LIMITS)
    assert str(error.value) == (
        "bad.csv, line 3: the text is neither UTF-8 nor Shift_JIS (cp932); save it from Excel as "
        '"CSV UTF-8".'
    )


def test_missing_column_in_csv_says_which() -> None:
    data = b"system,question,assistant\ns,u,a\n"
    with pytest.raises(InputError) as error:
        read_sheet(data, "m.csv", default_system=None, limits=LIMITS)
    assert str(error.value) == (
        # Columns by their letters: staff open CSV files in Excel.
        "m.csv, header row 1: missing column(s) user (found system (column A) and "
        "assistant (column C))."
    )


def test_csv_without_header() -> None:
    data = "こんにちは,やあ\n".encode()
    with pytest.raises(
        InputError, match=r"^n\.csv: no header row .* \(row 1 has: こんにちは, やあ\)"
    ):
        read_sheet(data, "n.csv", default_system=None, limits=LIMITS)


def test_csv_row_limit() -> None:
    data = ("user,assistant\n" + "u,a\n" * 4 + "\n\n").encode()
    assert len(read_sheet(data, "r.csv", default_system="s", limits=ReadLimits(10_000, 4)).examples)
    with pytest.raises(InputError, match=r"^r\.csv: more than 3 rows \(the limit\)"):
        read_sheet(data, "r.csv", default_system="s", limits=ReadLimits(10_000, 3))


def test_csv_byte_limit() -> None:
    data = ("user,assistant\n" + "u,a\n" * 100).encode()
    with pytest.raises(
        InputError, match=r"^big\.csv: the file is 415 bytes, over the limit of 400"
    ):
        read_sheet(data, "big.csv", default_system="s", limits=ReadLimits(400, 1000))


@pytest.mark.parametrize(
    ("data", "japanese"),
    [
        (
            b"system,user,assistant\ns,u,a\n" + b"s,\x81\xff,a\n",
            "bad.csv 3行目: 文字コードが UTF-8 でも Shift_JIS (cp932) でもありません。"
            "Excel で「CSV UTF-8」形式で保存し直してから、もう一度送ってください。",
        ),
        (
            "システム,質問\ns,u\n".encode(),
            "bad.csv 1行目の見出し: アシスタントの列がありません（見つかった列: システム（A列）と"
            "ユーザー（B列））。列を書き足してから、もう一度送ってください。",
        ),
        (
            ("user,assistant\n" + "u,a\n" * 60).encode(),
            "bad.csv: 行が上限の50行を超えています。いくつかのファイルに分けてから送ってください。",
        ),
    ],
)
def test_problems_read_in_japanese_naming_rows_and_columns_as_excel_does(data, japanese) -> None:
    with pytest.raises(InputError) as error:
        read_sheet(data, "bad.csv", default_system="s", limits=LIMITS)
    assert error.value.render("ja") == japanese
