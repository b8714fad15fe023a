from __future__ import annotations

import json

import pytest

from augment import InputError, ReadLimits, read_sheet

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
    assert [example.source for example in result.examples] == ["line 1", "line 4"]
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
        ('["a"]', 't.jsonl, line 2: expected an object like {"messages": [...]}.'),
        (line(("system", "s"), ("assistant", "a")), "t.jsonl, line 2: there is no user message."),
        (line(("user", "u")), "t.jsonl, line 2: there is no assistant message."),
        (line(("robot", "u")), "t.jsonl, line 2, message 1: unknown role 'robot'."),
        (
            line(("user", ""), ("assistant", "a")),
            "t.jsonl, line 2, message 1: the user message has no text.",
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
