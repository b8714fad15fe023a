"""Check chat fine-tuning JSONL the way OpenAI's data preparation cookbook does, line by line.

Decisions beyond the cookbook, because the upload would fail or train on nonsense otherwise:
- Roles are system, user and assistant only. The cookbook also accepts "function" (and OpenAI
  accepts "tool"), but those need tool definitions our sheets never carry, so they are reported.
- Message keys: role, content, name, weight, tool_calls, function_call (the cookbook's list plus
  tool_calls); anything else is an unknown key.
- content must be a non-empty string (whitespace only counts as empty); OpenAI's content-part
  arrays are reported as "must be text" since sheets only hold text.
- weight, when given, must be 0 or 1 and only on assistant messages (OpenAI's rule).
- Blank lines are problems: OpenAI rejects them. A final newline at the end of the file is fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MIN_EXAMPLES = 10  # OpenAI refuses to start a job with fewer training examples
ALLOWED_ROLES = ("system", "user", "assistant")
ALLOWED_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "function_call"}
)
DEFAULT_MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file; ``line`` is 1-based, None for whole-file problems."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Example:
    line: int
    messages: list[dict[str, Any]]


@dataclass
class ValidationReport:
    file: str
    examples: list[Example] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # the first max_problems of them
    problem_count: int = 0  # all of them, so the cog can say "and 37 more"
    lines: int = 0  # example lines in the file, valid or not

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


def validate_chat_jsonl(
    data: bytes,
    *,
    file: str,
    min_examples: int = MIN_EXAMPLES,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
) -> ValidationReport:
    """Validate every line; valid examples are kept (for token counts) even when others fail."""
    report = ValidationReport(file=file)

    def add(line: int | None, message: str) -> None:
        report.problem_count += 1
        if len(report.problems) < max_problems:
            report.problems.append(Problem(file, line, message))

    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1].strip() == b"":
        raw_lines.pop()  # the newline ending the last line, not an empty example
    if raw_lines and raw_lines[0].startswith(b"\xef\xbb\xbf"):
        raw_lines[0] = raw_lines[0][3:]  # a BOM from a spreadsheet export is not content

    report.lines = len(raw_lines)
    for number, raw in enumerate(raw_lines, start=1):
        errors = _check_line(raw)
        for message in errors:
            add(number, message)
        if not errors:
            report.examples.append(Example(number, json.loads(raw)["messages"]))

    # Invalid lines are reported on their own; this counts examples as the file has them.
    if len(raw_lines) < min_examples:
        add(None, f"needs at least {min_examples} examples, found {len(raw_lines)}")
    return report


def _check_line(raw: bytes) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"not valid UTF-8 text (byte {exc.start + 1})"]
    if not text.strip():
        return ["empty line (every line must be one JSON example)"]
    try:
        example = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not valid JSON ({exc.msg} at column {exc.colno})"]
    if not isinstance(example, dict):
        return [f"must be a JSON object, got {_json_type(example)}"]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return ['has no "messages" list']

    errors: list[str] = []
    for index, message in enumerate(messages, start=1):
        errors.extend(f"message {index} {problem}" for problem in _check_message(message))
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        errors.append("has no assistant message")
    return errors


def _check_message(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return [f"must be a JSON object, got {_json_type(message)}"]
    problems = []
    for key in sorted(set(message) - ALLOWED_MESSAGE_KEYS):
        problems.append(f"has unknown key {key!r}")
    role = message.get("role")
    if "role" not in message:
        problems.append("has no role")
    elif role not in ALLOWED_ROLES:
        problems.append(f"has unknown role {role!r} (use system, user or assistant)")
    if "content" not in message or message["content"] is None:
        problems.append("has no content")
    elif not isinstance(message["content"], str):
        problems.append(f"content must be text, got {_json_type(message['content'])}")
    elif not message["content"].strip():
        problems.append("has empty content")
    if "name" in message and not isinstance(message["name"], str):
        problems.append("name must be text")
    if "weight" in message:
        weight = message["weight"]
        if isinstance(weight, bool) or weight not in (0, 1):
            problems.append(f"weight must be 0 or 1, got {weight!r}")
        elif role != "assistant":
            problems.append("has a weight, which only assistant messages may have")
    return problems


def _json_type(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
