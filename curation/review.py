"""Reviewing augmented examples together: keep, drop or edit each one, then finish into a new
dataset.

Only examples made by augmentation are reviewed (the originals are the workshop's own sentences
and always stay). A decision is a row, written when it is made and never changed (storage.reviews
decides races); finishing reads them all and stores a NEW dataset whose parent is the reviewed
one, which itself is never changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from curation.records import example_object, record
from curation.store import DatasetStore, Person
from i18n import LocalizedError, msg
from storage.dataset_examples import ExampleRecord, StoredExample
from storage.datasets import Dataset
from storage.reviews import ReviewDecision, ReviewTally

Decision = Literal["keep", "drop", "edit"]
DECISIONS: tuple[Decision, ...] = ("keep", "drop", "edit")
Undecided = Literal["keep", "drop"]
UNDECIDED_CHOICES: tuple[Undecided, ...] = ("keep", "drop")
# Discord's longest text input; a sentence for a robot is far shorter.
MAX_EDITED_LENGTH = 4000


@dataclass(frozen=True)
class Change:
    """A replaced noun in the new sentence: ``sentence[start:start+len(after)]`` is ``after``,
    where the original said ``before``."""

    start: int
    before: str
    after: str


@dataclass(frozen=True)
class ReviewItem:
    """One example as a reviewer sees it."""

    line: int
    origin_line: int | None
    sentence: str  # the user turn augmentation rewrote
    answer: str  # the assistant's reply to it
    change: Change | None  # None: a copy of its original (duplicate), or no provenance
    decision: ReviewDecision | None


@dataclass(frozen=True)
class Decided:
    decision: ReviewDecision
    # False: somebody had decided this example already (``decision`` is theirs).
    recorded: bool


@dataclass(frozen=True)
class Finished:
    dataset: Dataset
    source: Dataset
    # False: the same examples were stored by an earlier finish (``dataset`` is that one).
    new: bool
    counts: Mapping[str, Any]


def edited_turn(example: Mapping[str, Any], turn: int | None) -> int | None:
    """The message a review edits: the one augmentation rewrote, else the first user turn."""
    messages = example.get("messages")
    if not isinstance(messages, list):
        return None
    if turn is not None and turn < len(messages) and _text_of(messages[turn]) is not None:
        return turn
    for index, message in enumerate(messages):
        if (
            isinstance(message, dict)
            and message.get("role") == "user"
            and _text_of(message) is not None
        ):
            return index
    return None


def _text_of(message: Any) -> str | None:
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return message["content"]
    return None


def review_item(stored: StoredExample, decision: ReviewDecision | None) -> ReviewItem:
    rec = stored.record
    example = example_object(rec)
    messages = example.get("messages", [])
    turn = edited_turn(example, rec.turn)
    sentence = (_text_of(messages[turn]) or "") if turn is not None else ""
    answer = next(
        (
            _text_of(message) or ""
            for message in messages[(turn or 0) + 1 :]
            if isinstance(message, dict) and message.get("role") == "assistant"
        ),
        "",
    )
    return ReviewItem(
        line=stored.line,
        origin_line=rec.origin_line,
        sentence=sentence,
        answer=answer,
        change=_change(rec, sentence),
        decision=decision,
    )


def _change(rec: ExampleRecord, sentence: str) -> Change | None:
    if rec.span_start is None or rec.before is None or rec.after is None:
        return None
    start = rec.span_start
    # Shown only where the stored span still matches the sentence.
    if sentence[start : start + len(rec.after)] != rec.after:
        return None
    return Change(start, rec.before, rec.after)


async def review_page(
    store: DatasetStore, dataset_id: int, *, offset: int, limit: int
) -> tuple[list[ReviewItem], ReviewTally]:
    reviewed = await store.reviews.page(dataset_id, offset=offset, limit=limit)
    tally = await store.reviews.tally(dataset_id)
    return [review_item(r.example, r.decision) for r in reviewed], tally


async def reviewable_dataset(store: DatasetStore, dataset_id: int) -> tuple[Dataset, ReviewTally]:
    """The dataset and where its review stands; a clear error when there is nothing to review."""
    dataset = await store.datasets.get(dataset_id)
    if dataset is None:
        raise LocalizedError(msg("curation.no_dataset", dataset=dataset_id))
    tally = await store.reviews.tally(dataset_id)
    if tally.reviewable == 0:
        raise LocalizedError(msg("review.nothing_to_review", dataset=dataset_id))
    return dataset, tally


def edited_text_problem(text: str) -> LocalizedError | None:
    if not text.strip():
        return LocalizedError(msg("review.edit.empty"))
    if len(text) > MAX_EDITED_LENGTH:
        return LocalizedError(msg("review.edit.too_long", limit=MAX_EDITED_LENGTH))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSONL cannot hold
        return LocalizedError(msg("review.edit.not_text"))
    return None


async def decide(
    store: DatasetStore,
    dataset_id: int,
    line: int,
    decision: Decision,
    by: Person,
    *,
    edited_text: str | None = None,
) -> Decided:
    """Record ``by``'s decision on one example, unless someone decided it first."""
    if decision not in DECISIONS:
        raise LocalizedError(msg("review.not_reviewable", dataset=dataset_id, line=line))
    if decision == "edit":
        if edited_text is None or (problem := edited_text_problem(edited_text)) is not None:
            raise problem or LocalizedError(msg("review.edit.empty"))
        stored = await store.examples.get(dataset_id, line)
        if stored is not None and review_item(stored, None).sentence == edited_text:
            decision, edited_text = "keep", None  # saved unchanged: that is keeping it
    else:
        edited_text = None
    outcome, recorded = await store.reviews.decide(
        dataset_id, line, decision, edited_text=edited_text, by_id=by.id, by_name=by.name
    )
    if outcome is None:
        raise LocalizedError(msg("review.not_reviewable", dataset=dataset_id, line=line))
    return Decided(outcome, recorded)


async def finish(
    store: DatasetStore, dataset_id: int, undecided: Undecided, by: Person
) -> Finished:
    """Store the reviewed data as a new dataset: the originals, the kept and edited examples,
    and the undecided ones kept or dropped as ``undecided`` says. The source stays as it is."""
    source, tally = await reviewable_dataset(store, dataset_id)
    examples = await store.examples.all(dataset_id)
    decisions = await store.reviews.all(dataset_id)
    # A big dataset takes a moment to go through: off the event loop.
    records, counts = await asyncio.to_thread(_chosen_records, examples, decisions, undecided)
    details = {
        **counts,
        "undecided_as": undecided,
        "reviewers": [[name, count] for name, count in tally.by_person],
    }
    dataset, new = await store.datasets.add_unless_stored(
        records,
        name=f"{source.name}-reviewed",
        source_file=source.source_file,
        method="review",
        operation="review",
        parents=[source.id],
        details=details,
        by_id=by.id,
        by_name=by.name,
    )
    return Finished(dataset, source, new, dataset.details)


def _chosen_records(
    examples: list[StoredExample], decisions: Mapping[int, ReviewDecision], undecided: Undecided
) -> tuple[list[ExampleRecord], dict[str, int]]:
    counts = {"kept": 0, "dropped": 0, "edited": 0, "undecided": 0}
    chosen: list[tuple[StoredExample, str | None]] = []  # (example, edited text)
    for stored in examples:
        if stored.record.origin_line is None:
            chosen.append((stored, None))
            continue
        decision = decisions.get(stored.line)
        if decision is None:
            counts["undecided"] += 1
            if undecided == "keep":
                chosen.append((stored, None))
        elif decision.decision == "keep":
            counts["kept"] += 1
            chosen.append((stored, None))
        elif decision.decision == "edit":
            counts["edited"] += 1
            chosen.append((stored, decision.edited_text))
        else:
            counts["dropped"] += 1
    return _renumbered(chosen), counts


def _renumbered(chosen: list[tuple[StoredExample, str | None]]) -> list[ExampleRecord]:
    """The chosen examples in order; each keeps its provenance with its original's new line
    (so the result can be reviewed again), an edited one its origin only."""
    new_line = {stored.line: index for index, (stored, _) in enumerate(chosen, start=1)}
    records = []
    for stored, edited in chosen:
        rec = stored.record
        origin = new_line.get(rec.origin_line) if rec.origin_line is not None else None
        if edited is None:
            records.append(
                ExampleRecord(
                    rec.json,
                    rec.text,
                    origin_line=origin,
                    turn=rec.turn if origin else None,
                    span_start=rec.span_start if origin else None,
                    span_end=rec.span_end if origin else None,
                    before=rec.before if origin else None,
                    after=rec.after if origin else None,
                )
            )
            continue
        example = example_object(rec)
        turn = edited_turn(example, rec.turn)
        if turn is not None:
            messages = list(example["messages"])
            messages[turn] = {**messages[turn], "content": edited}
            example = {**example, "messages": messages}
        records.append(record(example, origin_line=origin))
    return records
