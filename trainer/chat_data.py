"""Chat fine-tuning JSONL -> token ids and labels, with the loss on the assistant's words only.

The file is read with kobo's own rules (:func:`finetune.validation.validate_chat_jsonl`), so
whatever /train accepts trains here, and a bad line fails naming the file and line.

Which tokens are the assistant's is found from the chat template itself, whatever it is
(ChatML, Gemma's turns, LFM2's): the conversation is rendered up to each assistant message with
a marker in place of its content, which shows where that content starts; the turn ends where
the conversation rendered up to and including that message ends. Everything between (the
answer and the end-of-turn token the model must learn to stop on) is trained; the system text,
the user's words and the turn headers are not. Character spans are mapped to tokens through the
tokenizer's offsets, so the split does not depend on how the tokenizer merges across a boundary.
An assistant message with ``"weight": 0`` is not trained, as at OpenAI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.validation import example_chars, validate_chat_jsonl

IGNORED = -100  # the label of a token that is not trained (PyTorch's cross-entropy ignore index)
# The longest line (one example) a training or validation file may have. Far more than the
# worker's longest example (2048 tokens) needs, even for Japanese written as JSON's \uXXXX
# escapes (6 bytes a character); a longer line is refused before it is parsed, so that one
# example cannot take the machine's memory (issue #15: 2 MB took 1.3 GiB, 50 MB over 6 GiB).
MAX_EXAMPLE_BYTES = 64 * 1024
# Characters per token to tokenize first when only the first tokens are kept (grown as needed),
# and the tokens kept beyond them so that the cut at the prefix's end changes none of those kept.
PREFIX_CHARS_PER_TOKEN = 8
PREFIX_MARGIN_TOKENS = 64
_MARKER = "KOBOASSISTANTCONTENTMARKER"


class TrainingDataError(ValueError):
    """The training or validation file cannot be trained on; the message names file and line."""


class ChatTemplateError(ValueError):
    """The chat template cannot show where the assistant's turns are."""


@dataclass(frozen=True)
class ChatExample:
    line: int
    messages: list[dict[str, Any]]


@dataclass(frozen=True)
class TokenizedExample:
    line: int
    input_ids: list[int]
    labels: list[int]  # IGNORED except on the assistant's tokens
    chars: int  # characters of chat text, as kobo's estimates count them
    full_length: int  # tokens before truncation

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORED for label in self.labels)


def long_line_problem(data: bytes, *, name: str) -> str | None:
    """What is wrong when a line of ``data`` is longer than ``MAX_EXAMPLE_BYTES`` (naming the
    first such line), or None; the lines are not parsed."""
    start, line = 0, 1
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end - start > MAX_EXAMPLE_BYTES:
            return (
                f"{name} line {line}: the example is {end - start:,} bytes long; this trainer"
                f" takes examples of at most {MAX_EXAMPLE_BYTES:,} bytes (one JSONL line)"
            )
        start, line = end + 1, line + 1
    return None


def read_chat_examples(path: Path, *, name: str) -> list[ChatExample]:
    """Every example of the file, or :class:`TrainingDataError` for the first bad line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TrainingDataError(f"{name}: cannot be read: {exc.strerror or exc}") from exc
    if (problem := long_line_problem(data, name=name)) is not None:
        raise TrainingDataError(problem)
    report = validate_chat_jsonl(data, file=name, min_examples=1, max_problems=1)
    if not report.ok:
        more = report.problem_count - 1
        also = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise TrainingDataError(f"{report.problems[0]}{also}")
    return [ChatExample(example.line, example.messages) for example in report.examples]


def most_common_system_prompt(examples: list[ChatExample]) -> str | None:
    """The system message most examples open with (None when none has one)."""
    prompts = Counter(
        example.messages[0]["content"]
        for example in examples
        if example.messages[0]["role"] == "system"
    )
    return prompts.most_common(1)[0][0] if prompts else None


def render(tokenizer: Any, messages: list[dict[str, Any]], *, generation_prompt: bool) -> str:
    turns = [{"role": m["role"], "content": m["content"]} for m in messages]
    return tokenizer.apply_chat_template(
        turns, tokenize=False, add_generation_prompt=generation_prompt
    )


def assistant_spans(tokenizer: Any, messages: list[dict[str, Any]]) -> tuple[str, list[range]]:
    """The rendered conversation and the character ranges of the assistant turns to train."""
    text = render(tokenizer, messages, generation_prompt=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        through = render(tokenizer, messages[: index + 1], generation_prompt=False)
        marked = render(
            tokenizer,
            [*messages[:index], {"role": "assistant", "content": _MARKER}],
            generation_prompt=False,
        )
        start = marked.find(_MARKER)
        if start < 0 or marked[:start] != through[:start] or not text.startswith(through):
            raise ChatTemplateError(
                "the chat template does not render a conversation as its earlier turns followed"
                " by the next one, so the assistant's part cannot be found"
            )
        spans.append(range(start, len(through)))
    return text, spans


def tokenize_example(tokenizer: Any, example: ChatExample, *, max_length: int) -> TokenizedExample:
    """Token ids and labels of one example, cut to ``max_length`` tokens."""
    text, spans = assistant_spans(tokenizer, example.messages)
    ids, offsets, full_length = _first_tokens(tokenizer, text, max_length)
    labels = [
        token if any(start in span for span in spans) else IGNORED
        for token, (start, _end) in zip(ids, offsets, strict=True)
    ]
    return TokenizedExample(
        line=example.line,
        input_ids=ids,
        labels=labels,
        chars=example_chars(example.messages),
        full_length=full_length,
    )


def _first_tokens(
    tokenizer: Any, text: str, max_length: int
) -> tuple[list[int], list[tuple[int, int]], int]:
    """The first ``max_length`` token ids of ``text`` and their character offsets, and how many
    tokens the text has (or a lower bound above ``max_length`` when it is cut). Only a prefix of
    a long text is tokenized, so that memory follows ``max_length``, not the text."""
    size = max_length * PREFIX_CHARS_PER_TOKEN
    while True:
        # The template writes the special tokens (BOS, turn markers) itself.
        encoded = tokenizer(text[:size], add_special_tokens=False, return_offsets_mapping=True)
        count = len(encoded["input_ids"])
        if size >= len(text) or count > max_length + PREFIX_MARGIN_TOKENS:
            ids = list(encoded["input_ids"][:max_length])
            offsets = [tuple(pair) for pair in encoded["offset_mapping"][:max_length]]
            return ids, offsets, count
        size *= 2
