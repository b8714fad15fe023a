"""How a review looks in Discord: the examples with their change, and what was decided."""

from __future__ import annotations

import discord

from bot.paginator import PageWindow
from curation.review import Finished, ReviewItem
from i18n import Language, text
from storage.datasets import Dataset
from storage.reviews import ReviewDecision, ReviewTally

# Around the replaced word: enough to judge the sentence, short enough for four in one embed.
CONTEXT_CHARS = 60
ANSWER_CHARS = 100
EDITED_CHARS = 120
NAME_CHARS = 60
SHOWN_REVIEWERS = 8


def _plain(text_: str) -> str:
    """Hostile text shown as written: one line, no markdown."""
    return discord.utils.escape_markdown(" ".join(text_.split()))


def _clip_start(text_: str, length: int) -> str:
    return text_ if len(text_) <= length else "…" + text_[-(length - 1) :]


def _clip_end(text_: str, length: int) -> str:
    return text_ if len(text_) <= length else text_[: length - 1] + "…"


def changed_sentence(item: ReviewItem) -> str:
    """The sentence with its change marked, ~~old~~→**new**, clipped around it."""
    sentence = item.sentence
    change = item.change
    if change is None:
        return _plain(_clip_end(sentence, 2 * CONTEXT_CHARS))
    end = change.start + len(change.after)
    before = _clip_start(sentence[: change.start], CONTEXT_CHARS)
    after = _clip_end(sentence[end:], CONTEXT_CHARS)
    return f"{_plain(before)}~~{_plain(change.before)}~~→**{_plain(change.after)}**{_plain(after)}"


def decision_line(decision: ReviewDecision, language: Language) -> str:
    name = _plain(_clip_end(decision.decided_by_name, NAME_CHARS))
    if decision.decision == "edit":
        edited = _plain(_clip_end(decision.edited_text or "", EDITED_CHARS))
        return text("review.decided.edit", language, name=name, text=edited)
    return text(f"review.decided.{decision.decision}", language, name=name)


def review_embed(
    dataset: Dataset,
    items: list[ReviewItem],
    tally: ReviewTally,
    window: PageWindow,
    language: Language,
) -> discord.Embed:
    name = _plain(_clip_end(dataset.name, NAME_CHARS))
    embed = discord.Embed(
        title=text(
            "review.title",
            language,
            dataset=dataset.id,
            name=name,
            decided=tally.decided,
            total=tally.reviewable,
        ),
        colour=discord.Colour.gold(),
    )
    lines = [text("review.help", language), ""]
    for item in items:
        copy = (
            " " + text("review.copy_of", language, origin=item.origin_line)
            if item.change is None and item.origin_line
            else ""
        )
        lines.append(f"`{item.line}` {changed_sentence(item)}{copy}")
        if item.answer:
            lines.append(f"　↳ {_plain(_clip_end(item.answer, ANSWER_CHARS))}")
        if item.decision is not None:
            lines.append(f"　{decision_line(item.decision, language)}")
    embed.description = "\n".join(lines)
    footer = [text("lists.page", language, page=window.number, pages=window.count)]
    if tally.by_person:
        people = ", ".join(
            text("review.person", language, name=" ".join(name.split()), count=count)
            for name, count in tally.by_person[:SHOWN_REVIEWERS]
        )
        footer.append(text("review.reviewers", language, people=people))
    embed.set_footer(text=" · ".join(footer))
    return embed


def already_decided(decision: ReviewDecision, language: Language) -> str:
    return text(
        "review.already_decided",
        language,
        name=_plain(decision.decided_by_name),
        decision=text(f"review.word.{decision.decision}", language),
    )


def finished_text(finished: Finished, language: Language) -> str:
    dataset, counts = finished.dataset, finished.counts
    if not finished.new:
        return text("review.finished_before", language, dataset=dataset.id)
    undecided_as = "keep" if counts.get("undecided_as") == "keep" else "drop"
    lines = [
        text(
            "review.finished",
            language,
            source=finished.source.id,
            dataset=dataset.id,
            examples=dataset.example_count,
            kept=counts.get("kept", 0),
            edited=counts.get("edited", 0),
            dropped=counts.get("dropped", 0),
            undecided=counts.get("undecided", 0),
            undecided_as=text(f"curation.undecided_were.{undecided_as}", language),
        )
    ]
    reviewers = counts.get("reviewers") or []
    if reviewers:
        people = ", ".join(
            text("review.person", language, name=_plain(str(name)), count=count)
            for name, count in reviewers[:SHOWN_REVIEWERS]
        )
        lines.append(text("review.reviewers", language, people=people))
    lines.append(text("augment.reply.train_it", language, dataset=dataset.id))
    return "\n".join(lines)
