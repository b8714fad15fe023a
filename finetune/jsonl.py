"""Strict JSON lines: the one parser and the one writer for the JSONL kobo reads and writes.

Python's json module is lenient where a hostile file can hurt: it accepts NaN and Infinity (not
JSON; they come back out as invalid JSON), escapes of lone surrogates such as "\\ud800" (not
Unicode; UTF-8 cannot encode them), numbers so long that int() refuses them (a bare ValueError),
overflowing numbers (1e400 becomes inf) and nesting so deep that the parser runs out of stack
(RecursionError). Here each of those is a :class:`JSONLineError` with a short reason (a catalogue
message, in the reader's language), so readers can say "line N: ..." and what they keep can
always be written back as strict JSON in UTF-8.

Both engines use it: augment reads and writes chat JSONL, finetune checks what it uploads.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from i18n import LocalizedError, Message, msg

# A chat example needs about five levels ({"messages": [{"content": [{"text": ...}]}]}).
MAX_NESTING = 32
# The longest float Python writes, -1.7976931348623157e+308, has 24 characters.
MAX_NUMBER_CHARS = 40
SHOWN_CHARS = 40  # of a key or number quoted in a message

_SURROGATE = re.compile("[\ud800-\udfff]")
# Text decoded from UTF-8 holds a lone surrogate only through an escape. This finds more than
# escapes (an escaped backslash followed by "ud800" too): it only decides whether to look closer.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# JSON lets these stand unescaped in strings, but str.splitlines() breaks lines at them; escaped,
# every example stays on its line whatever splits the file.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


class JSONLineError(LocalizedError, ValueError):
    """A line that is not strict JSON; ``error.message`` is a short reason without the line
    (``str(error)`` the English one)."""


def line_place(number: int) -> Message:
    """Line ``number`` (from 1) of a text file: "line 3" / "3行目"."""
    return msg("datacheck.line", line=number)


def parse_json_line(text: str) -> Any:
    """The JSON value of one line (text decoded from UTF-8), or :class:`JSONLineError` saying
    why it is not strict JSON."""
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        # Some of json's messages end in "at" already ("Unterminated string starting at").
        reason = error.msg.removesuffix(" at")
        raise JSONLineError(
            msg("datacheck.json.invalid", reason=reason, column=error.colno)
        ) from None
    except RecursionError:
        raise JSONLineError(_too_deep()) from None
    # The walk costs more than the parse; skip it when the text shows it cannot find anything.
    if text.count("[") + text.count("{") > MAX_NESTING or (
        "\\u" in text and _SURROGATE_ESCAPE.search(text)
    ):
        _check_tree(value)
    return value


def json_line(value: Any) -> str:
    """One line of strict JSON: Japanese left readable, never NaN, no raw line separators."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    for char, escape in _LINE_BREAKS.items():
        if char in text:  # only ever inside a string, where the escape means the same
            text = text.replace(char, escape)
    return text


def jsonl_bytes(values: Iterable[Any]) -> bytes:
    """One value per line, UTF-8 without a BOM; lone surrogates raise instead of being written."""
    lines = [json_line(value) for value in values]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _refuse_constant(name: str) -> Any:
    raise JSONLineError(msg("datacheck.json.not_a_number", name=name))


def _parse_int(token: str) -> int:
    _check_number_length(token)
    return int(token)


def _parse_float(token: str) -> float:
    _check_number_length(token)
    value = float(token)
    if math.isinf(value):
        raise JSONLineError(msg("datacheck.json.number_too_large", number=_shown(token)))
    return value


def _check_number_length(token: str) -> None:
    # Checked before int(): it refuses more than 4,300 digits and is slow well before that.
    if len(token) > MAX_NUMBER_CHARS:
        raise JSONLineError(
            msg("datacheck.json.number_too_long", length=f"{len(token):,}", limit=MAX_NUMBER_CHARS)
        )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With a key twice, readers disagree on which value counts: what we checked might not be
    # what OpenAI trains on.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONLineError(msg("datacheck.json.key_twice", key=_shown(key)))
            seen.add(key)
    return obj


def _check_tree(value: Any) -> None:
    """Nesting depth and strings, walked without recursion (the value may be hostile)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_NESTING:
                raise JSONLineError(_too_deep())
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                children = item.values()
            else:
                children = item
            stack.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    if not text.isascii() and (found := _SURROGATE.search(text)):
        raise JSONLineError(msg("datacheck.json.surrogate", code=f"{ord(found.group()):04x}"))


def _too_deep() -> Message:
    return msg("datacheck.json.too_deep", limit=MAX_NESTING)


def _shown(text: str) -> str:
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…")


# One decoder for every line: json.loads with hooks would build a new one each time.
_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant,
    parse_int=_parse_int,
    parse_float=_parse_float,
    object_pairs_hook=_unique_keys,
)
