"""Examples from a JSONL file in OpenAI's chat fine-tuning format (``{"messages": [...]}``).

Lines are parsed and checked by /train's own rules (finetune.jsonl, finetune.validation), so a
file /augment accepts is one /train accepts too.
"""

from __future__ import annotations

from collections.abc import Iterator

from augment.errors import InputError
from augment.example import Example
from augment.table import Where
from finetune.jsonl import JSONLineError, line_place, parse_json_line
from finetune.validation import example_problems
from i18n import msg
from i18n.joining import joined

SHOWN_PROBLEMS = 3  # of one line; the first ones are what to fix first


def jsonl_lines(data: bytes, filename: Where) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of every non-blank line; bad UTF-8 names its line."""
    for line_number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            # A BOM may only open the file; utf-8-sig drops it there.
            text = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InputError(
                msg(
                    "augment.jsonl.not_utf8",
                    file=filename,
                    line=line_place(line_number),
                    reason=error.reason,
                    byte=error.start + 1,
                )
            ) from error
        if text.strip():
            yield line_number, text


def parse_example(
    text: str, line_number: int, filename: Where, default_system: str | None
) -> Example:
    line = line_place(line_number)
    try:
        obj = parse_json_line(text)
    except JSONLineError as error:
        raise InputError(
            msg("augment.jsonl.bad_line", file=filename, line=line, problems=error.message)
        ) from None
    problems = example_problems(obj)
    if problems:
        shown = joined(problems[:SHOWN_PROBLEMS], more=max(0, len(problems) - SHOWN_PROBLEMS))
        raise InputError(msg("augment.jsonl.bad_line", file=filename, line=line, problems=shown))
    messages = obj["messages"]
    if messages[0]["role"] != "system" and default_system:
        messages = [{"role": "system", "content": default_system}, *messages]
    extra = {key: value for key, value in obj.items() if key != "messages"}
    return Example(messages=tuple(messages), extra=extra, source=line)
