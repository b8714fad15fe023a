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

Problems are catalogue messages (:class:`~i18n.Message`): the /train preview and /augment show
them in the reader's language; ``str()`` of each is English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finetune.jsonl import JSONLineError, line_place, parse_json_line
from finetune.tokens import MAX_CHARS_PER_TOKEN
from i18n import Language, Message, msg

MIN_EXAMPLES = 10  # OpenAI refuses to start a job with fewer training examples
ALLOWED_ROLES = ("system", "user", "assistant")
ALLOWED_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "function_call"}
)
DEFAULT_MAX_PROBLEMS = 20
SHOWN_VALUE_CHARS = 40  # of a hostile role, key or weight quoted in a problem


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file; ``line`` is 1-based, None for whole-file problems.

    ``message`` says what is wrong; ``full_message`` adds where ("train.jsonl line 4: ..." /
    "train.jsonl 4行目: ..."), and ``str()`` is that in English.
    """

    file: str
    line: int | None
    message: Message

    @property
    def full_message(self) -> Message:
        if self.line is None:
            return msg("datacheck.problem.in_file", file=self.file, problem=self.message)
        return msg(
            "datacheck.problem.in_line",
            file=self.file,
            line=line_place(self.line),
            problem=self.message,
        )

    def render(self, language: Language) -> str:
        return self.full_message.render(language)

    def __str__(self) -> str:
        return str(self.full_message)


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

    def add(line: int | None, message: Message) -> None:
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
        add(None, msg("datacheck.file.too_few", needed=min_examples, found=len(raw_lines)))
    return report


def example_problems(example: Any) -> list[Message]:
    """Why one parsed JSONL line is not a chat fine-tuning example kobo accepts; [] when it is."""
    if not isinstance(example, dict):
        return [msg("datacheck.example.not_object", type=_json_type(example))]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [msg("datacheck.example.no_messages")]

    errors: list[Message] = []
    for index, message in enumerate(messages, start=1):
        errors.extend(
            msg("datacheck.example.in_message", index=index, problem=problem)
            for problem in _check_message(message)
        )
    if errors:
        return errors  # whole-example rules only make sense once every message has its role
    roles = [message["role"] for message in messages]
    if all(role == "assistant" for role in roles):
        return [msg("datacheck.example.only_assistant")]
    if "user" not in roles:
        errors.append(msg("datacheck.example.no_user"))
    if "assistant" not in roles:
        errors.append(msg("datacheck.example.no_assistant"))
    return errors


def example_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of an example's text (every string value, as the token count reads them)."""
    return sum(len(value) for m in messages for value in m.values() if isinstance(value, str))


def length_problems(messages: list[dict[str, Any]], max_tokens_per_example: int) -> list[Message]:
    """An example that must be over the limit, whatever its text: told apart without tokenizing,
    which is slow on such text (one long word of megabytes takes tiktoken minutes)."""
    chars = example_chars(messages)
    if chars <= max_tokens_per_example * MAX_CHARS_PER_TOKEN:
        return []
    return [
        msg(
            "datacheck.example.too_long",
            chars=f"{chars:,}",
            tokens=f"{max_tokens_per_example:,}",
        )
    ]


def _check_line(raw: bytes) -> tuple[dict[str, Any] | None, list[Message]]:
    """The example and [] when the line is one, else None and what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [msg("datacheck.line.not_utf8", byte=exc.start + 1)]
    if not text.strip():
        return None, [msg("datacheck.line.empty")]
    try:
        example = parse_json_line(text)
    except JSONLineError as exc:
        return None, [exc.message]
    errors = example_problems(example)
    return (None if errors else example), errors


def _check_message(message: Any) -> list[Message]:
    if not isinstance(message, dict):
        return [msg("datacheck.message.not_object", type=_json_type(message))]
    problems = []
    for key in sorted(set(message) - ALLOWED_MESSAGE_KEYS):
        problems.append(msg("datacheck.message.unknown_key", key=_shown(key)))
    role = message.get("role")
    if "role" not in message:
        problems.append(msg("datacheck.message.no_role"))
    elif role not in ALLOWED_ROLES:
        problems.append(msg("datacheck.message.unknown_role", role=_shown(role)))
    if "content" not in message or message["content"] is None:
        problems.append(msg("datacheck.message.no_content"))
    elif not isinstance(message["content"], str):
        problems.append(
            msg("datacheck.message.content_not_text", type=_json_type(message["content"]))
        )
    elif not message["content"].strip():
        problems.append(msg("datacheck.message.empty_content"))
    if "name" in message and not isinstance(message["name"], str):
        problems.append(msg("datacheck.message.name_not_text"))
    if "weight" in message:
        weight = message["weight"]
        if isinstance(weight, bool) or weight not in (0, 1):
            problems.append(msg("datacheck.message.bad_weight", weight=_shown(weight)))
        elif role != "assistant":
            problems.append(msg("datacheck.message.weight_not_assistant"))
    return problems


def _shown(value: Any) -> str | Message:
    """A value from the file, quoted short: a hostile one may be megabytes long."""
    if isinstance(value, str):
        cut = len(value) > SHOWN_VALUE_CHARS
        return repr(value[:SHOWN_VALUE_CHARS]) + ("…" if cut else "")
    if value is None or isinstance(value, bool | int | float):
        return repr(value)  # numbers are short: finetune.jsonl bounds them
    return _json_type(value)


# What a JSON value is, by its Python type after parsing.
_JSON_TYPES = {
    dict: "object",
    list: "list",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
}


def _json_type(value: Any) -> Message:
    # Parsed JSON holds no other types: a KeyError here is a bug in the caller.
    return msg(f"datacheck.type.{_JSON_TYPES[type(value)]}")
