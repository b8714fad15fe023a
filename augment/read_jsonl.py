"""Examples from a JSONL file in OpenAI's chat fine-tuning format (``{"messages": [...]}``).

Lines are parsed and checked by /train's own rules (finetune.jsonl, finetune.validation), so a
file /augment accepts is one /train accepts too.
"""

from __future__ import annotations

from collections.abc import Iterator

from augment.errors import InputError
from augment.example import Example
from finetune.jsonl import JSONLineError, parse_json_line
from finetune.validation import example_problems

SHOWN_PROBLEMS = 3  # of one line; the first ones are what to fix first


def jsonl_lines(data: bytes, filename: str) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of every non-blank line; bad UTF-8 names its line."""
    for line_number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            # A BOM may only open the file; utf-8-sig drops it there.
            text = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InputError(
                f"{filename}, line {line_number}: the text is not UTF-8 ({error.reason} at "
                f"byte {error.start + 1} of the line)."
            ) from error
        if text.strip():
            yield line_number, text


def parse_example(
    text: str, line_number: int, filename: str, default_system: str | None
) -> Example:
    where = f"{filename}, line {line_number}"
    try:
        obj = parse_json_line(text)
    except JSONLineError as error:
        raise InputError(f"{where}: {error}.") from None
    problems = example_problems(obj)
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        shown = "; ".join(problems[:SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        raise InputError(f"{where}: {shown}.")
    messages = obj["messages"]
    if messages[0]["role"] != "system" and default_system:
        messages = [{"role": "system", "content": default_system}, *messages]
    extra = {key: value for key, value in obj.items() if key != "messages"}
    return Example(messages=tuple(messages), extra=extra, source=f"line {line_number}")
