"""Examples as the dataset store keeps them: the JSONL line, the text search reads, and where
each came from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from augment.engine import AugmentResult, Provenance
from augment.example import Example
from finetune.jsonl import JSONLineError, json_line, parse_json_line
from storage.dataset_examples import ExampleRecord

# The turns search reads: what is said, not the system prompt that every example repeats.
SEARCHED_ROLES = ("user", "assistant")


def search_text(example: Mapping[str, Any]) -> str:
    """The user and assistant turns of a ``{"messages": [...]}`` object, one per line."""
    messages = example.get("messages")
    if not isinstance(messages, list):
        return ""
    return "\n".join(
        message["content"]
        for message in messages
        if isinstance(message, dict)
        and message.get("role") in SEARCHED_ROLES
        and isinstance(message.get("content"), str)
    )


def record(
    example: Mapping[str, Any],
    *,
    origin_line: int | None = None,
    provenance: Provenance | None = None,
) -> ExampleRecord:
    """``example`` (a JSONL object) as stored; ``origin_line``: the line of its original in the
    same dataset, ``provenance``: the noun that augmentation replaced."""
    if provenance is None or provenance.turn is None:
        return ExampleRecord(json_line(example), search_text(example), origin_line=origin_line)
    return ExampleRecord(
        json_line(example),
        search_text(example),
        origin_line=origin_line,
        turn=provenance.turn,
        span_start=provenance.start,
        span_end=provenance.end,
        before=provenance.before,
        after=provenance.after,
    )


def augment_records(result: AugmentResult) -> list[ExampleRecord]:
    """The originals (lines 1..n), then every new example naming its original's line."""
    originals = [record(example.to_json_object()) for example in result.originals]
    made = [
        record(example.to_json_object(), origin_line=made_from.row + 1, provenance=made_from)
        for example, made_from in zip(result.new_examples, result.provenance, strict=True)
    ]
    return originals + made


def plain_records(examples: Sequence[Example]) -> list[ExampleRecord]:
    return [record(example.to_json_object()) for example in examples]


def example_object(stored: ExampleRecord) -> dict[str, Any]:
    """The example a stored line holds (an empty object for a line that is not JSON)."""
    try:
        value = parse_json_line(stored.json)
    except JSONLineError:
        return {}
    return value if isinstance(value, dict) else {}


def records_from_jsonl(data: bytes) -> list[ExampleRecord]:
    """Every line of a stored dataset file, as it is (so line N stays line N); lines that are
    not JSON are kept with nothing to search."""
    records = []
    for raw in data.decode("utf-8", errors="replace").removeprefix("\ufeff").split("\n"):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            value = parse_json_line(line)
        except JSONLineError:
            value = None
        text = search_text(value) if isinstance(value, dict) else ""
        records.append(ExampleRecord(line, text))
    return records
