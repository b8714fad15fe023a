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


def test_every_example_needs_a_user_message():
    system_only = json.dumps(
        {"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}
    )
    report = validate_chat_jsonl(with_line(4, system_only), file="t.jsonl")
    assert messages_of(report.problems) == ["t.jsonl line 4: has no user message"]


def test_an_example_of_only_assistant_messages_is_named_as_such():
    line = json.dumps(
        {"messages": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}
    )
    report = validate_chat_jsonl(with_line(8, line), file="t.jsonl")
    assert messages_of(report.problems) == [
        "t.jsonl line 8: has only assistant messages (add the user message they answer)"
    ]


def test_lines_that_are_not_strict_json_are_problems_not_crashes():
    data = with_line(2, '{"messages": [], "n": ' + "7" * 5000 + "}")
    data = data.replace(b'"0 + 0 is 0!"', b"NaN")  # the assistant's answer on line 1
    lines = data.decode().splitlines()
    lines[4] = "[" * 100_000 + "]" * 100_000
    lines[6] = '{"messages": [{"role": "user", "content": "\\ud800"}]}'
    report = validate_chat_jsonl(("\n".join(lines) + "\n").encode(), file="t.jsonl")
    assert messages_of(report.problems) == [
        "t.jsonl line 1: NaN is not a JSON number",
        "t.jsonl line 2: a number is 5,000 characters long (at most 40)",
        "t.jsonl line 5: nested too deeply (more than 32 levels)",
        "t.jsonl line 7: a string holds \\ud800, half of a surrogate pair, which is not a "
        "character",
    ]
    assert [e.line for e in report.examples] == [3, 4, 6, 8, 9, 10, 11, 12]


def test_a_hostile_role_or_key_is_quoted_short():
    message = {"role": "x" * 100_000, "content": "hi", "k" * 100_000: 1}
    line = json.dumps({"messages": [message, {"role": "assistant", "content": "ok"}]})
    report = validate_chat_jsonl(with_line(1, line), file="t.jsonl")
    assert messages_of(report.problems) == [
        f"t.jsonl line 1: message 1 has unknown key '{'k' * 40}'…",
        f"t.jsonl line 1: message 1 has unknown role '{'x' * 40}'… (use system, user or assistant)",
    ]


def test_an_example_longer_than_any_tokenization_of_the_limit_is_too_long():
    # 1,000 tokens cover at most 128,000 characters (the longest token is 128 bytes); the text
    # counted is every string: "user" + content + "assistant" + "ok".
    def example(chars: int) -> str:
        return chat_line(
            "a" * (chars - len("user") - len("assistant") - len("ok")), "ok", system=None
        )

    data = with_line(3, example(128_001))
    lines = data.decode().splitlines()
    lines[4] = example(128_000)
    data = ("\n".join(lines) + "\n").encode()
    report = validate_chat_jsonl(data, file="t.jsonl", max_tokens_per_example=1000)
    assert messages_of(report.problems) == [
        "t.jsonl line 3: example is too long (128,001 characters; the model takes at most "
        "1,000 tokens)"
    ]
    assert 5 in [e.line for e in report.examples]


def test_problems_are_messages_a_japanese_reader_gets_in_japanese():
    line = json.dumps({"messages": [{"role": "robot", "content": ""}]})
    report = validate_chat_jsonl(with_line(3, line), file="t.jsonl")
    assert [p.full_message.render("ja") for p in report.problems] == [
        "t.jsonl 3行目: 1番目のメッセージ: role 'robot' は使えません"
        "（system、user、assistant のどれかにしてください）",
        "t.jsonl 3行目: 1番目のメッセージ: content が空です",
    ]
    assert [p.message.key for p in report.problems] == [
        "datacheck.example.in_message",
        "datacheck.example.in_message",
    ]
    assert messages_of(report.problems)[1] == "t.jsonl line 3: message 1 has empty content"


def test_a_whole_file_problem_in_japanese():
    report = validate_chat_jsonl(training_jsonl(9), file="train.jsonl")
    assert report.problems[0].full_message.render("ja") == (
        "train.jsonl: 例が足りません。10件以上必要ですが、9件しかありません"
    )
