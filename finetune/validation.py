"""Check chat fine-tuning JSONL the way OpenAI's data preparation cookbook does, line by line.

These are the example rules of kobo: /train checks files with them before uploading, and /augment
refuses a .jsonl line that breaks them, so whatever /augment writes, /train accepts.

Decisions beyond the cookbook, because the upload would fail or train on nonsense otherwise:
- Lines are strict JSON (finetune.jsonl): no NaN, no lone surrogates, bounded numbers and nesting.
- Roles are system, user and assistant only. The cookbook also accepts "function" (and OpenAI
  accepts "tool"), but those need tool definitions our sheets never carry, so they are reported.
- Message keys: role, content, name, weight, tool_calls, function_call (the cookbook's list plus
  tool_calls); anything else is an unknown key.
- content must be a non-empty string (whitespace only counts as empty); OpenAI's content-part
  arrays are reported as "must be text" since sheets only hold text.
- weight, when given, must be 0 or 1 and only on assistant messages (OpenAI's rule).
- Every example has a user message (the cookbook counts those missing one) and an assistant
  message; one with nothing but assistant messages is named as such.
- An example longer than the model could ever take (more characters than its per-example token
  limit times the most characters one token covers) is a problem, found before counting tokens.
- Blank lines are problems: OpenAI rejects them. A final newline at the end of the file is fine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finetune.jsonl import JSONLineError, parse_json_line
from finetune.tokens import MAX_CHARS_PER_TOKEN

MIN_EXAMPLES = 10  # OpenAI refuses to start a job with fewer training examples
ALLOWED_ROLES = ("system", "user", "assistant")
ALLOWED_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "function_call"}
)
DEFAULT_MAX_PROBLEMS = 20
SHOWN_VALUE_CHARS = 40  # of a hostile role, key or weight quoted in a problem


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
    max_tokens_per_example: int | None = None,
) -> ValidationReport:
    """Validate every line; valid examples are kept (for token counts) even when others fail.

    With ``max_tokens_per_example`` (the base model's limit), examples too long to count are
    problems too.
    """
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
        example, errors = _check_line(raw)
        if example is not None and max_tokens_per_example is not None:
            errors += length_problems(example["messages"], max_tokens_per_example)
        for message in errors:
            add(number, message)
        if not errors:
            report.examples.append(Example(number, example["messages"]))

    # Invalid lines are reported on their own; this counts examples as the file has them.
    if len(raw_lines) < min_examples:
        add(None, f"needs at least {min_examples} examples, found {len(raw_lines)}")
    return report


def example_problems(example: Any) -> list[str]:
    """Why one parsed JSONL line is not a chat fine-tuning example kobo accepts; [] when it is."""
    if not isinstance(example, dict):
        return [f"must be a JSON object, got {_json_type(example)}"]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return ['has no "messages" list']

    errors: list[str] = []
    for index, message in enumerate(messages, start=1):
        errors.extend(f"message {index} {problem}" for problem in _check_message(message))
    if errors:
        return errors  # whole-example rules only make sense once every message has its role
    roles = [message["role"] for message in messages]
    if all(role == "assistant" for role in roles):
        return ["has only assistant messages (add the user message they answer)"]
    if "user" not in roles:
        errors.append("has no user message")
    if "assistant" not in roles:
        errors.append("has no assistant message")
    return errors


def example_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of an example's text (every string value, as the token count reads them)."""
    return sum(len(value) for m in messages for value in m.values() if isinstance(value, str))


def length_problems(messages: list[dict[str, Any]], max_tokens_per_example: int) -> list[str]:
    """An example that must be over the limit, whatever its text: told apart without tokenizing,
    which is slow on such text (one long word of megabytes takes tiktoken minutes)."""
    chars = example_chars(messages)
    if chars <= max_tokens_per_example * MAX_CHARS_PER_TOKEN:
        return []
    return [
        f"example is too long ({chars:,} characters; the model takes at most "
        f"{max_tokens_per_example:,} tokens)"
    ]


def _check_line(raw: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """The example and [] when the line is one, else None and what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"not valid UTF-8 text (byte {exc.start + 1})"]
    if not text.strip():
        return None, ["empty line (every line must be one JSON example)"]
    try:
        example = parse_json_line(text)
    except JSONLineError as exc:
        return None, [str(exc)]
    errors = example_problems(example)
    return (None if errors else example), errors


def _check_message(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return [f"must be a JSON object, got {_json_type(message)}"]
    problems = []
    for key in sorted(set(message) - ALLOWED_MESSAGE_KEYS):
        problems.append(f"has unknown key {_shown(key)}")
    role = message.get("role")
    if "role" not in message:
        problems.append("has no role")
    elif role not in ALLOWED_ROLES:
        problems.append(f"has unknown role {_shown(role)} (use system, user or assistant)")
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
            problems.append(f"weight must be 0 or 1, got {_shown(weight)}")
        elif role != "assistant":
            problems.append("has a weight, which only assistant messages may have")
    return problems


def _shown(value: Any) -> str:
    """A value from the file, quoted short: a hostile one may be megabytes long."""
    if isinstance(value, str):
        cut = len(value) > SHOWN_VALUE_CHARS
        return repr(value[:SHOWN_VALUE_CHARS]) + ("…" if cut else "")
    if value is None or isinstance(value, bool | int | float):
        return repr(value)  # numbers are short: finetune.jsonl bounds them
    return _json_type(value)


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
