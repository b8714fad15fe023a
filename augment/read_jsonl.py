"""Examples from a JSONL file in OpenAI's chat fine-tuning format (``{"messages": [...]}``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from augment.errors import InputError
from augment.example import Example

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


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
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{where}: not valid JSON ({error.msg} at column {error.colno})."
        ) from error
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        raise InputError(f'{where}: expected an object like {{"messages": [...]}}.')
    messages = obj["messages"]
    for index, message in enumerate(messages, start=1):
        _check_message(message, f"{where}, message {index}")
    roles = [message["role"] for message in messages]
    if "user" not in roles:
        raise InputError(f"{where}: there is no user message.")
    if "assistant" not in roles:
        raise InputError(f"{where}: there is no assistant message.")
    if roles[0] not in ("system", "developer") and default_system:
        messages = [{"role": "system", "content": default_system}, *messages]
    extra = {key: value for key, value in obj.items() if key != "messages"}
    return Example(messages=tuple(messages), extra=extra, source=f"line {line_number}")


def _check_message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise InputError(f"{where}: a message must be an object with role and content.")
    role = message.get("role")
    if role not in ROLES:
        raise InputError(f"{where}: unknown role {role!r}.")
    content = message.get("content")
    has_text = isinstance(content, str) and bool(content.strip())
    # A list is the multimodal form (text and image parts): passed through, never rewritten.
    if role in ("system", "user") and not has_text and not isinstance(content, list):
        raise InputError(f"{where}: the {role} message has no text.")
    if role == "assistant" and content is None and "tool_calls" not in message:
        raise InputError(f"{where}: the assistant message has no content.")
