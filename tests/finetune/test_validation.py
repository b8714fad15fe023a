from __future__ import annotations

import json

from finetune.validation import validate_chat_jsonl
from tests.finetune.conftest import chat_line, training_jsonl


def with_line(line_number: int, text: str, total: int = 12) -> bytes:
    lines = training_jsonl(total).decode().splitlines()
    lines[line_number - 1] = text
    return ("\n".join(lines) + "\n").encode()


def messages_of(problems) -> list[str]:
    return [str(p) for p in problems]


def test_a_good_file_has_no_problems_and_keeps_every_example():
    report = validate_chat_jsonl(training_jsonl(12), file="train.jsonl")
    assert report.ok
    assert report.lines == 12
    assert [e.line for e in report.examples] == list(range(1, 13))


def test_broken_json_names_the_line_and_column():
    report = validate_chat_jsonl(with_line(4, '{"messages": [}'), file="train.jsonl")
    assert messages_of(report.problems) == [
        "train.jsonl line 4: not valid JSON (Expecting value at column 15)"
    ]
    assert len(report.examples) == 11


def test_a_line_that_is_not_an_object():
    report = validate_chat_jsonl(with_line(2, "[1, 2]"), file="t.jsonl")
    assert messages_of(report.problems) == ["t.jsonl line 2: must be a JSON object, got a list"]


def test_missing_messages_list():
    report = validate_chat_jsonl(with_line(3, '{"prompt": "hi"}'), file="t.jsonl")
    assert messages_of(report.problems) == ['t.jsonl line 3: has no "messages" list']


def test_message_without_content_or_role():
    line = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]})
    report = validate_chat_jsonl(with_line(7, line), file="t.jsonl")
    assert messages_of(report.problems) == ["t.jsonl line 7: message 2 has no content"]

    line = json.dumps({"messages": [{"content": "hi"}, {"role": "assistant", "content": "yo"}]})
    report = validate_chat_jsonl(with_line(5, line), file="t.jsonl")
    assert messages_of(report.problems) == ["t.jsonl line 5: message 1 has no role"]


def test_empty_and_non_text_content():
    line = json.dumps(
        {"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "ok"}]}
    )
    report = validate_chat_jsonl(with_line(1, line), file="t.jsonl")
    assert messages_of(report.problems) == ["t.jsonl line 1: message 1 has empty content"]

    line = json.dumps(
        {"messages": [{"role": "user", "content": ["a"]}, {"role": "assistant", "content": "ok"}]}
    )
    report = validate_chat_jsonl(with_line(1, line), file="t.jsonl")
    assert messages_of(report.problems) == [
        "t.jsonl line 1: message 1 content must be text, got a list"
    ]


def test_unknown_keys_and_roles():
    line = json.dumps(
        {
            "messages": [
                {"role": "bot", "content": "hi", "text": "x"},
                {"role": "assistant", "content": "ok", "name": "stackchan", "weight": 1},
            ]
        }
    )
    report = validate_chat_jsonl(with_line(9, line), file="t.jsonl")
    assert messages_of(report.problems) == [
        "t.jsonl line 9: message 1 has unknown key 'text'",
        "t.jsonl line 9: message 1 has unknown role 'bot' (use system, user or assistant)",
    ]


def test_tool_and_function_roles_are_not_supported():
    line = json.dumps(
        {"messages": [{"role": "tool", "content": "42"}, {"role": "assistant", "content": "ok"}]}
    )
    report = validate_chat_jsonl(with_line(2, line), file="t.jsonl")
    assert "unknown role 'tool'" in messages_of(report.problems)[0]


def test_every_example_needs_an_assistant_message():
    line = json.dumps({"messages": [{"role": "user", "content": "hello"}]})
    report = validate_chat_jsonl(with_line(6, line), file="t.jsonl")
    assert messages_of(report.problems) == ["t.jsonl line 6: has no assistant message"]


def test_weight_must_be_0_or_1_on_assistant_messages():
    line = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "hi", "weight": 1},
                {"role": "assistant", "content": "ok", "weight": 0.5},
            ]
        }
    )
    report = validate_chat_jsonl(with_line(3, line), file="t.jsonl")
    assert messages_of(report.problems) == [
        "t.jsonl line 3: message 1 has a weight, which only assistant messages may have",
        "t.jsonl line 3: message 2 weight must be 0 or 1, got 0.5",
    ]


def test_blank_lines_and_bad_utf8_are_reported_but_a_final_newline_is_fine():
    data = with_line(2, "") + b"\xff\xfe not text\n"
    report = validate_chat_jsonl(data, file="t.jsonl")
    assert messages_of(report.problems) == [
        "t.jsonl line 2: empty line (every line must be one JSON example)",
        "t.jsonl line 13: not valid UTF-8 text (byte 1)",
    ]


def test_a_byte_order_mark_from_a_spreadsheet_export_is_ignored():
    report = validate_chat_jsonl(b"\xef\xbb\xbf" + training_jsonl(10), file="t.jsonl")
    assert report.ok


def test_fewer_than_ten_examples_is_a_problem_for_the_whole_file():
    report = validate_chat_jsonl(training_jsonl(9), file="train.jsonl")
    assert messages_of(report.problems) == ["train.jsonl: needs at least 10 examples, found 9"]


def test_only_the_first_problems_are_listed_but_all_are_counted():
    bad = "\n".join(["{"] * 30).encode()
    report = validate_chat_jsonl(bad, file="t.jsonl", max_problems=5)
    assert [p.line for p in report.problems] == [1, 2, 3, 4, 5]
    assert report.problem_count == 30


def test_japanese_text_is_fine():
    data = "\n".join(
        chat_line("こんにちは", "こんにちは！ぼくはスタックチャン。") for _ in range(10)
    )
    assert validate_chat_jsonl(data.encode(), file="t.jsonl").ok
