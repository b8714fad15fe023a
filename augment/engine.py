"""Turn a few dozen examples into a few hundred: the ``duplicate`` and ``bert`` methods.

``count`` means the same for both methods: how many times each original row appears in the
output at most, itself included ("make the data N times bigger").

* ``duplicate``: every example exactly ``count`` times (``count - 1`` new copies each).
* ``bert``: up to ``count - 1`` new variants per example, each with one noun of one user turn
  replaced by a fill-mask prediction. Rows whose nouns yield fewer acceptable predictions get
  fewer variants. Variants are taken round-robin over the nouns by prediction rank (every noun's
  best candidate before any noun's second best), so the variants of a row stay varied.

``max_new_per_row`` is an operator's cap on top of the user's ``count`` (a setting); the
smaller wins, ``AugmentResult.new_per_row`` says what was applied and ``AugmentResult.capped``
whether the cap cut the count down (so a reply can say so instead of silently making less).

The output is the originals first, then the new examples, in row order. Each new example has
its :class:`Provenance` (which original, which noun became which word), so a review can show
the change and a dataset can keep it beside the clean JSONL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from augment.candidates import Rejection, candidate_word
from augment.errors import AugmentOptionError
from augment.example import Example
from augment.nouns import Span, noun_spans
from i18n import msg

if TYPE_CHECKING:
    from augment.fill_mask import FillMaskModel

Method = Literal["duplicate", "bert"]
METHODS: tuple[Method, ...] = ("duplicate", "bert")
MAX_TOP_K = 200
SAMPLE_COUNT = 3

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Provenance:
    """Where a new example came from: ``row`` is its original's index in ``originals``; a bert
    variant also says which message it rewrote and the noun's span there, before and after."""

    row: int
    turn: int | None = None
    start: int | None = None
    end: int | None = None
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class AugmentResult:
    method: Method
    originals: list[Example]
    new_examples: list[Example]
    # What the user asked for: the data up to this many times bigger.
    count: int
    # The most new examples one row could get (count - 1, or the operator's cap).
    new_per_row: int
    # bert: a few of the rewritten user sentences, to show in a reply. duplicate rewrites none.
    samples: list[str] = field(default_factory=list)
    # bert: how many predictions were turned down, by reason.
    rejected: dict[Rejection, int] = field(default_factory=dict)
    # bert: rows that got no new example (no noun, or no acceptable prediction).
    rows_without_new: int = 0
    # One per new example, in the same order.
    provenance: list[Provenance] = field(default_factory=list)

    @property
    def examples(self) -> list[Example]:
        return [*self.originals, *self.new_examples]

    @property
    def capped(self) -> bool:
        """The operator's ``max_new_per_row`` made the data grow less than ``count`` asked."""
        return self.new_per_row < self.count - 1

    @property
    def counts(self) -> dict[str, int]:
        """Examples per origin, e.g. {"original": 40, "bert": 312}."""
        return {"original": len(self.originals), self.method: len(self.new_examples)}


def augment(
    examples: Sequence[Example],
    *,
    method: Method,
    count: int,
    top_k: int = 10,
    max_new_per_row: int | None = None,
    fill_mask: FillMaskModel | None = None,
    existing: set[str] | None = None,
    progress: Progress | None = None,
) -> AugmentResult:
    """Blocking (the bot runs it with ``asyncio.to_thread``); ``progress(rows_done, rows)`` is
    called from this thread.

    ``existing``: user sentences already in the data elsewhere; bert never produces them again.
    """
    new_per_row = _new_per_row(method, count, top_k, max_new_per_row, fill_mask)
    originals = list(examples)
    if method == "duplicate":
        result = _duplicate(originals, count, new_per_row)
        if progress is not None:
            progress(len(originals), len(originals))
        return result
    assert fill_mask is not None  # checked by _new_per_row
    return _bert(originals, count, new_per_row, top_k, fill_mask, existing or set(), progress)


def _new_per_row(
    method: str,
    count: int,
    top_k: int,
    max_new_per_row: int | None,
    fill_mask: FillMaskModel | None,
) -> int:
    if method not in METHODS:
        raise AugmentOptionError(
            msg("augment.option.unknown_method", method=method, methods=", ".join(METHODS))
        )
    if count < 1:
        raise AugmentOptionError(msg("augment.option.count_too_small", count=count))
    if max_new_per_row is not None and max_new_per_row < 0:
        raise AugmentOptionError(msg("augment.option.cap_negative", value=max_new_per_row))
    if method == "bert":
        if count < 2:
            raise AugmentOptionError(msg("augment.option.bert_count_one"))
        if not 1 <= top_k <= MAX_TOP_K:
            raise AugmentOptionError(msg("augment.option.top_k_range", most=MAX_TOP_K, top_k=top_k))
        if fill_mask is None:
            raise AugmentOptionError(msg("augment.option.bert_needs_model"))
    new = count - 1
    return new if max_new_per_row is None else min(new, max_new_per_row)


def _duplicate(originals: list[Example], count: int, new_per_row: int) -> AugmentResult:
    # Copy after copy of the whole set (not row after row) keeps the data's order in each round.
    new_examples = [example for _ in range(new_per_row) for example in originals]
    provenance = [Provenance(row) for _ in range(new_per_row) for row in range(len(originals))]
    # No samples: copies are the user's own sentences, not new ones worth showing.
    return AugmentResult(
        method="duplicate",
        originals=originals,
        new_examples=new_examples,
        count=count,
        new_per_row=new_per_row,
        provenance=provenance,
    )


@dataclass(frozen=True)
class _Slot:
    """One noun of one user turn of one example, masked."""

    row: int
    turn: int
    span: Span
    text: str

    @property
    def starts_word(self) -> bool:
        return self.span.start == 0 or self.text[self.span.start - 1].isspace()

    def masked(self, mask_token: str) -> str:
        return self.text[: self.span.start] + mask_token + self.text[self.span.end :]

    def replaced(self, word: str) -> str:
        # At the noun's character span: the rest of the sentence stays exactly as written.
        return self.text[: self.span.start] + word + self.text[self.span.end :]


def _bert(
    originals: list[Example],
    count: int,
    new_per_row: int,
    top_k: int,
    fill_mask: FillMaskModel,
    existing: set[str],
    progress: Progress | None,
) -> AugmentResult:
    slots = _slots(originals) if new_per_row > 0 else []
    tracker = _RowTracker(originals, slots, progress)
    # Children write alike ("好きな食べ物は？", "好きな飲み物は？"): the same masked sentence
    # from several rows is predicted once.
    masked = [slot.masked(fill_mask.mask_token) for slot in slots]
    unique = list(dict.fromkeys(masked))
    where = {text: index for index, text in enumerate(unique)}
    slots_of: list[list[int]] = [[] for _ in unique]
    for slot_index, text in enumerate(masked):
        slots_of[where[text]].append(slot_index)
    unique_predictions = fill_mask.top_k_batched(
        unique,
        top_k,
        on_batch=lambda done: tracker.finished([s for index in done for s in slots_of[index]]),
    )
    predictions = [unique_predictions[where[text]] for text in masked]
    tracker.finish()

    rejected: Counter[Rejection] = Counter()
    words_by_row: dict[int, list[tuple[_Slot, list[str]]]] = {}
    for slot, token_ids in zip(slots, predictions, strict=True):
        words = []
        for token_id in token_ids:
            word = candidate_word(
                fill_mask.token(token_id),
                token_id,
                original=slot.span.text,
                starts_word=slot.starts_word,
                rules=fill_mask.token_rules,
            )
            if isinstance(word, Rejection):
                rejected[word] += 1
            elif word not in words:
                words.append(word)
        words_by_row.setdefault(slot.row, []).append((slot, words))

    seen = set(existing)
    for example in originals:
        seen.update(str(example.messages[turn]["content"]) for turn in example.user_turns())
    new_examples: list[Example] = []
    provenance: list[Provenance] = []
    sentences: list[str] = []
    rows_without_new = 0
    for row, example in enumerate(originals):
        made = 0
        row_words = words_by_row.get(row, [])
        deepest = max((len(words) for _, words in row_words), default=0)
        for rank in range(deepest):
            for slot, words in row_words:
                if made >= new_per_row:
                    break
                if rank >= len(words):
                    continue
                sentence = slot.replaced(words[rank])
                if sentence in seen:
                    rejected[Rejection.DUPLICATE] += 1
                    continue
                seen.add(sentence)
                new_examples.append(example.with_content(slot.turn, sentence))
                span = slot.span
                provenance.append(
                    Provenance(row, slot.turn, span.start, span.end, span.text, words[rank])
                )
                sentences.append(sentence)
                made += 1
            if made >= new_per_row:
                break
        rows_without_new += made == 0
    return AugmentResult(
        method="bert",
        originals=originals,
        new_examples=new_examples,
        count=count,
        new_per_row=new_per_row,
        samples=_spread(sentences),
        rejected=dict(rejected),
        rows_without_new=rows_without_new,
        provenance=provenance,
    )


def _slots(originals: list[Example]) -> list[_Slot]:
    slots = []
    for row, example in enumerate(originals):
        for turn in example.user_turns():
            text = str(example.messages[turn]["content"])
            slots.extend(_Slot(row, turn, span, text) for span in noun_spans(text))
    return slots


class _RowTracker:
    """Counts a row as done once every one of its masked sentences has been predicted."""

    def __init__(self, originals: list[Example], slots: list[_Slot], progress: Progress | None):
        self._rows = len(originals)
        self._slot_rows = [slot.row for slot in slots]
        self._left = Counter(self._slot_rows)
        self._done = self._rows - len(self._left)
        self._progress = progress
        self._report()

    def finished(self, slot_indexes: list[int]) -> None:
        for index in slot_indexes:
            row = self._slot_rows[index]
            self._left[row] -= 1
            if self._left[row] == 0:
                self._done += 1
        self._report()

    def finish(self) -> None:
        if self._done != self._rows:  # cannot happen; never leave a progress bar hanging
            self._done = self._rows
            self._report()

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self._done, self._rows)


def _spread(sentences: list[str]) -> list[str]:
    """Up to SAMPLE_COUNT different sentences from across the list (start, middle, end)."""
    if len(sentences) <= SAMPLE_COUNT:
        return list(dict.fromkeys(sentences))
    last = len(sentences) - 1
    picks = [sentences[round(last * i / (SAMPLE_COUNT - 1))] for i in range(SAMPLE_COUNT)]
    return list(dict.fromkeys(picks))
