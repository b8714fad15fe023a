from __future__ import annotations

import codecs
import json

import pytest

from augment import InputError, ReadLimits, read_sheet, to_jsonl
from finetune.jsonl import parse_json_line
from finetune.models import default_model_table
from finetune.plan import TrainingParams, prepare_plan
from finetune.validation import MIN_EXAMPLES, validate_chat_jsonl

LIMITS = ReadLimits(max_bytes=100_000, max_rows=50)


def line(*messages: tuple[str, str], **extra: object) -> str:
    obj = {"messages": [{"role": r, "content": c} for r, c in messages], **extra}
    return json.dumps(obj, ensure_ascii=False)


def test_examples_pass_through_with_every_field() -> None:
    multi = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "犬は好き？"},
            {"role": "assistant", "content": "好き", "weight": 0},
            {"role": "user", "content": "猫は？"},
            {"role": "assistant", "content": "猫も好き", "weight": 1},
        ],
        "metadata": {"author": "kobo"},
    }
    data = ("\ufeff" + json.dumps(multi, ensure_ascii=False) + "\n\n  \n").encode()
    data += (line(("system", "s"), ("user", "u"), ("assistant", "a")) + "\n").encode()

    result = read_sheet(data, "train.jsonl", default_system="unused", limits=LIMITS)

    assert [example.to_json_object() for example in result.examples] == [
        multi,
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a"},
            ]
        },
    ]
    assert [str(example.source) for example in result.examples] == ["line 1", "line 4"]
    assert result.rows_read == 2


def test_default_system_is_added_where_an_example_has_none() -> None:
    data = (line(("user", "u"), ("assistant", "a")) + "\n").encode()
    result = read_sheet(data, "t.jsonl", default_system="既定", limits=LIMITS)
    assert result.examples[0].messages[0] == {"role": "system", "content": "既定"}
    bare = read_sheet(data, "t.jsonl", default_system=None, limits=LIMITS)
    assert [m["role"] for m in bare.examples[0].messages] == ["user", "assistant"]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"messages": [}', "t.jsonl, line 2: not valid JSON (Expecting value at column 15)."),
        ('["a"]', "t.jsonl, line 2: must be a JSON object, got a list."),
        (line(("system", "s"), ("assistant", "a")), "t.jsonl, line 2: has no user message."),
        (line(("user", "u")), "t.jsonl, line 2: has no assistant message."),
        (
            line(("robot", "u")),
            "t.jsonl, line 2: message 1 has unknown role 'robot' (use system, user or assistant).",
        ),
        (line(("user", ""), ("assistant", "a")), "t.jsonl, line 2: message 1 has empty content."),
        (
            line(("user", 1), ("assistant", ["a"]), ("tool", "t"), ("assistant", None)),
            "t.jsonl, line 2: message 1 content must be text, got a number; message 2 content "
            "must be text, got a list; message 3 has unknown role 'tool' (use system, user or "
            "assistant); and 1 more.",
        ),
        # Strict JSON: what Python's json module lets through or crashes on.
        (
            '{"messages": [{"role": "user", "content": "u", "weight": NaN}]}',
            "t.jsonl, line 2: NaN is not a JSON number.",
        ),
        ('{"n": -Infinity}', "t.jsonl, line 2: -Infinity is not a JSON number."),
        (
            '{"n": ' + "9" * 5000 + "}",
            "t.jsonl, line 2: a number is 5,000 characters long (at most 40).",
        ),
        ('{"n": 1e400}', "t.jsonl, line 2: the number '1e400' is too large."),
        ("[" * 40_000 + "]" * 40_000, "t.jsonl, line 2: nested too deeply (more than 32 levels)."),
        ("[" * 33 + "]" * 33, "t.jsonl, line 2: nested too deeply (more than 32 levels)."),
        (
            '{"messages": [{"role": "user", "content": "\\ud800"}]}',
            "t.jsonl, line 2: a string holds \\ud800, half of a surrogate pair, which is not a "
            "character.",
        ),
        (
            '{"messages": [], "messages": [{"role": "user", "content": "u"}]}',
            "t.jsonl, line 2: the key 'messages' appears twice in one object.",
        ),
    ],
)
def test_bad_lines_are_named(bad_line: str, message: str) -> None:
    data = (line(("user", "u"), ("assistant", "a")) + "\n" + bad_line + "\n").encode()
    with pytest.raises(InputError) as error:
        read_sheet(data, "t.jsonl", default_system=None, limits=LIMITS)
    assert str(error.value) == message


def test_bad_utf8_names_the_line() -> None:
    data = (line(("user", "u"), ("assistant", "a")) + "\n").encode() * 2 + b'{"x": "\xff"}\n'
    with pytest.raises(InputError, match=r"^t\.jsonl, line 3: the text is not UTF-8"):
        read_sheet(data, "t.jsonl", default_system=None, limits=LIMITS)


def test_line_limit() -> None:
    data = ((line(("user", "u"), ("assistant", "a")) + "\n") * 3).encode()
    with pytest.raises(InputError, match=r"^t\.jsonl: more than 2 lines \(the limit\)"):
        read_sheet(data, "t.jsonl", default_system=None, limits=ReadLimits(100_000, 2))


def test_only_blank_lines() -> None:
    with pytest.raises(InputError, match=r"^t\.jsonl: the file is empty\.$"):
        read_sheet(b"\n \n", "t.jsonl", default_system=None, limits=LIMITS)
    with pytest.raises(InputError, match=r"^t\.jsonl: no examples \(every line is blank\)\.$"):
        read_sheet("\ufeff\n\n".encode(), "t.jsonl", default_system=None, limits=LIMITS)


def message_line(*messages: dict[str, object], **extra: object) -> str:
    return json.dumps({"messages": list(messages), **extra}, ensure_ascii=False)


USER = {"role": "user", "content": "u"}
ASSISTANT = {"role": "assistant", "content": "a"}
SYSTEM = {"role": "system", "content": "s"}
# Lines /augment and /train must judge alike: good ones, the shapes OpenAI's format has but kobo's
# text-only workshops do not use, and hostile ones.
CANDIDATE_LINES = [
    message_line(USER, ASSISTANT),
    message_line(SYSTEM, USER, ASSISTANT, metadata={"author": "kobo"}),
    message_line(USER, {**ASSISTANT, "weight": 0}, USER, {**ASSISTANT, "weight": 1}),
    message_line({**USER, "name": "taro"}, ASSISTANT),
    message_line({**USER, "content": 42}, ASSISTANT),
    message_line({**USER, "content": [{"type": "text", "text": "u"}]}, ASSISTANT),
    message_line(USER, {"role": "assistant", "content": None, "tool_calls": []}),
    message_line(USER, {"role": "tool", "content": "42"}, ASSISTANT),
    message_line({"role": "developer", "content": "d"}, USER, ASSISTANT),
    message_line(USER, {"role": "function", "content": "f", "name": "f"}, ASSISTANT),
    message_line({**USER, "weight": 1}, ASSISTANT),
    message_line(USER, {**ASSISTANT, "weight": 0.5}),
    message_line(USER, {**ASSISTANT, "weight": True}),
    message_line({**USER, "content": " "}, ASSISTANT),
    message_line({**USER, "name": 7}, ASSISTANT),
    message_line({**USER, "text": "x"}, ASSISTANT),
    message_line(USER),
    message_line(SYSTEM, ASSISTANT),
    message_line(ASSISTANT, ASSISTANT),
    message_line(),
    '{"messages": {}}',
    '"just text"',
    '{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": NaN}]}',
    '{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],'
    ' "score": Infinity}',
    '{"messages": [{"role": "user", "content": "\\udfff"}, {"role": "assistant", "content": "a"}]}',
    '{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],'
    ' "n": ' + "1" * 4301 + "}",
    '{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],'
    ' "x": ' + "[" * 2000 + "]" * 2000 + "}",
]


@pytest.mark.parametrize("candidate", CANDIDATE_LINES)
def test_augment_accepts_exactly_what_train_accepts(candidate: str) -> None:
    data = ((candidate + "\n") * MIN_EXAMPLES).encode()
    train_ok = validate_chat_jsonl(data, file="t.jsonl").ok
    try:
        read = read_sheet(data, "t.jsonl", default_system="既定", limits=LIMITS)
    except InputError:
        assert not train_ok, "/augment refuses a line /train accepts"
        return
    assert train_ok, "/augment accepts a line /train refuses"
    written = to_jsonl(read.examples)
    plan = prepare_plan(
        written,
        training_filename="t.jsonl",
        params=TrainingParams("gpt-4o-mini-2024-07-18"),
        models=default_model_table(),
    )
    assert plan.ok and not plan.problems


def test_what_augment_writes_is_strict_utf8_json_whatever_the_text() -> None:
    # As they stand in the file, inside a JSON string.
    awkward = [
        "改行\u2028区切り\u2029段落\x85次",  # line breaks to str.splitlines(), raw in JSON strings
        r"\ud83d\ude00 は一文字",  # an escaped surrogate pair is one real character
        r"tab\t newline\n bell\u0007 quote\" slash\\",
        r"\ufeff starts with a BOM character",
    ]
    lines = [
        '{"messages": [{"role": "user", "content": "' + text + '"}, '
        '{"role": "assistant", "content": "a"}], "score": 1.5e300}'
        for text in awkward
    ]
    read = read_sheet(
        ("\n".join(lines) + "\n").encode(), "t.jsonl", default_system=None, limits=LIMITS
    )

    written = to_jsonl(read.examples)

    assert not written.startswith(codecs.BOM_UTF8)
    text = written.decode("utf-8")  # strict: no lone surrogate made it into the bytes
    assert len(text.splitlines()) == len(awkward)
    assert [parse_json_line(x) for x in text.splitlines()] == [
        example.to_json_object() for example in read.examples
    ]
    assert read.examples[1].messages[0]["content"] == "😀 は一文字"


def test_a_bad_line_is_explained_in_japanese_naming_the_line() -> None:
    data = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
    with pytest.raises(InputError) as error:
        read_sheet(data, "t.jsonl", default_system=None, limits=LIMITS)
    assert str(error.value) == "t.jsonl, line 1: has no assistant message."
    assert error.value.render("ja") == (
        "t.jsonl 1行目: assistant のメッセージがありません。直してから、もう一度送ってください。"
    )
