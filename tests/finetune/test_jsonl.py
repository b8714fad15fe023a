from __future__ import annotations

import json

import pytest

from finetune.jsonl import JSONLineError, json_line, jsonl_bytes, parse_json_line


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": Infinity}', "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("9" * 5000, "a number is 5,000 characters long (at most 40)"),
        ("0." + "1" * 50, "a number is 52 characters long (at most 40)"),
        ('{"a": -1e999}', "the number '-1e999' is too large"),
        ("[" * 50_000 + "]" * 50_000, "nested too deeply (more than 32 levels)"),
        ('{"a": ' * 33 + "1" + "}" * 33, "nested too deeply (more than 32 levels)"),
        (
            '["\\ud800"]',
            "a string holds \\ud800, half of a surrogate pair, which is not a character",
        ),
        (
            '{"\\udc00x": 1}',
            "a string holds \\udc00, half of a surrogate pair, which is not a character",
        ),
        ('{"a": 1, "b": 2, "a": 3}', "the key 'a' appears twice in one object"),
        (
            '{"a": 1,}',
            "not valid JSON (Expecting property name enclosed in double quotes at column 9)",
        ),
        ('"tab\tinside"', "not valid JSON (Invalid control character at column 5)"),
    ],
)
def test_what_pythons_json_lets_through_or_crashes_on_is_a_named_reason(text, reason):
    with pytest.raises(JSONLineError) as error:
        parse_json_line(text)
    assert str(error.value) == reason


def test_strict_json_still_reads_everything_json_allows():
    text = '{"a": [1, -2.5e-3, 1e308, true, null, "\\ud83d\\ude00 \\u3042"], "b": {"c": ""}}'
    assert parse_json_line(text) == json.loads(text)
    assert parse_json_line("[" * 32 + "]" * 32) is not None  # 32 levels are fine


def test_lines_written_are_strict_json_on_one_line_each():
    values = [{"text": "行\u2028区切り\u2029と\x85NEL", "n": 1.5}, {"ja": "こんにちは"}]
    data = jsonl_bytes(values)
    text = data.decode("utf-8")
    assert "こんにちは" in text  # Japanese stays readable
    assert len(text.splitlines()) == 2
    assert [parse_json_line(line) for line in text.splitlines()] == values


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_the_writer_refuses_what_is_not_json(value):
    with pytest.raises(ValueError):
        json_line({"score": value})


def test_the_writer_refuses_a_lone_surrogate_instead_of_writing_it():
    with pytest.raises(UnicodeEncodeError):
        jsonl_bytes([{"text": "\ud800"}])


def test_nothing_to_write_is_an_empty_file():
    assert jsonl_bytes([]) == b""


@pytest.mark.parametrize(
    ("text", "japanese"),
    [
        ('{"a": NaN}', "NaN は JSON の数値として使えません"),
        ('{"a": 1, "b": 2, "a": 3}', "1つのオブジェクトにキー 'a' が2回出てきます"),
        ("[" * 40 + "]" * 40, "入れ子が深すぎます（32段まで）"),
        ('{"a": 1,}', "JSON として正しくありません（9文字目: Expecting property name enclosed"),
    ],
)
def test_the_reason_is_a_message_in_either_language(text, japanese):
    with pytest.raises(JSONLineError) as error:
        parse_json_line(text)
    assert error.value.render("ja").startswith(japanese)
    assert str(error.value) == error.value.render("en")
