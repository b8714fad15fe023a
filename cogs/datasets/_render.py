"""How augmentation results and stored datasets look in Discord."""

from __future__ import annotations

from collections.abc import Mapping

import discord

from augment.job import AugmentJob, ModelDownload, RowsDone
from bot.formatting import relative_time
from curation.export import ExportFormat
from curation.lineage import describe
from curation.merge import Merged
from curation.records import example_object
from curation.search import snippet
from finetune.jsonl import line_place
from i18n import Language, text
from storage.dataset_examples import SearchPage, StoredExample
from storage.datasets import LINEAGE_LIMIT, Ancestor, Dataset
from storage.reviews import ReviewDecision

# An embed's description holds 4,096 characters: the lineage and a page of examples, clipped.
EXAMPLE_TURN_LENGTH = 160
SNIPPET_WIDTH = 50
DECISION_MARKS = {"keep": "✓", "drop": "✗", "edit": "✎"}

MESSAGE_LIMIT = 2000
SAMPLE_LENGTH = 120


def progress_text(
    filename: str, method: str, update: RowsDone | ModelDownload, language: Language
) -> str:
    if isinstance(update, ModelDownload):
        return update.message.render(language)
    name = discord.utils.escape_markdown(filename)
    return text(
        "augment.reply.progress",
        language,
        file=name,
        method=method,
        done=update.done,
        total=update.total,
    )


def result_text(job: AugmentJob, dataset: Dataset, language: Language) -> str:
    request = job.request
    lines = [
        text(
            "augment.reply.result",
            language,
            file=discord.utils.escape_markdown(request.filename),
            dataset=dataset.id,
            method=request.method,
            count=request.count,
        ),
        *(f"- {line.render(language)}" for line in job.summary()),
    ]
    if job.result.samples:
        lines.append(text("augment.reply.samples", language))
        lines += [f"> {_clip(sample)}" for sample in job.result.samples]
    lines.append(text("augment.reply.train_it", language, dataset=dataset.id))
    if job.result.method == "bert" and job.result.new_examples:
        lines.append(text("review.after_augment", language, dataset=dataset.id))
    reply = "\n".join(lines)
    return reply if len(reply) <= MESSAGE_LIMIT else reply[: MESSAGE_LIMIT - 1] + "…"


def _clip(sentence: str, length: int = SAMPLE_LENGTH) -> str:
    """One line of at most ``length`` characters, shown as written (no markdown, no mentions)."""
    one_line = " ".join(sentence.split())
    clipped = one_line if len(one_line) <= length else one_line[: length - 1] + "…"
    return discord.utils.escape_markdown(clipped)


def shown(text: str) -> str:
    """User data (names, file names) as it is written, never as markdown."""
    return discord.utils.escape_markdown(" ".join(text.split()))


def show_embed(
    dataset: Dataset,
    lineage: list[Ancestor],
    examples: list[StoredExample],
    decisions: Mapping[int, ReviewDecision],
    language: Language,
) -> discord.Embed:
    """/datasets show: where the dataset came from, then a page of its examples."""
    embed = discord.Embed(
        title=text("curation.show.title", language, id=dataset.id, name=_dataset_name(dataset)),
        colour=discord.Colour.green(),
    )
    lines = [f"**{text('curation.show.lineage', language)}**"]
    lines += [f"- {describe(ancestor, _name).render(language)}" for ancestor in lineage]
    if len(lineage) >= LINEAGE_LIMIT:
        lines.append(text("curation.lineage.more", language))
    lines += ["", f"**{text('curation.show.examples', language)}**"]
    if not examples:
        lines.append(text("curation.show.empty", language))
    for stored in examples:
        decision = decisions.get(stored.line)
        mark = f" {DECISION_MARKS[decision.decision]}" if decision else ""
        lines.append(f"`{stored.line}`{mark} {example_line(stored)}")
    embed.description = "\n".join(lines)
    embed.set_footer(text=text("curation.show.footer", language, examples=dataset.example_count))
    return embed


def example_line(stored: StoredExample) -> str:
    """An example's user and assistant turns: ``question → answer``, each clipped."""
    messages = example_object(stored.record).get("messages")
    turns = [
        _clip(message["content"], EXAMPLE_TURN_LENGTH)
        for message in (messages if isinstance(messages, list) else [])
        if isinstance(message, dict)
        and message.get("role") in ("user", "assistant")
        and isinstance(message.get("content"), str)
    ]
    return " → ".join(turns) or "—"


def search_embed(
    query: str, words: list[str], found: SearchPage, language: Language
) -> discord.Embed:
    shown_query = shown(query)
    embed = discord.Embed(
        title=_clip(text("curation.search.title", language, query=query), 256),
        colour=discord.Colour.green(),
    )
    if not found.hits:
        embed.description = text("curation.search.none", language, query=shown_query)
    else:
        embed.description = "\n".join(
            text(
                "curation.search.hit",
                language,
                dataset=hit.dataset_id,
                line=line_place(hit.line).render(language),
                snippet=_snippet(hit.record.text, words),
            )
            for hit in found.hits
        )
    footer = text("curation.search.footer", language, total=found.total)
    if not found.indexed:
        footer += " · " + text("curation.search.scanned", language)
    embed.set_footer(text=footer)
    return embed


def _snippet(text_: str, words: list[str]) -> str:
    piece = snippet(text_, words, SNIPPET_WIDTH)
    match = f"**{shown(piece.match)}**" if piece.match else ""
    return shown(piece.before) + match + shown(piece.after)


def merged_text(merged: Merged, language: Language) -> str:
    dataset = merged.dataset
    lines = [
        text(
            "curation.merge.done",
            language,
            sources=", ".join(f"#{source.id}" for source in merged.sources),
            dataset=dataset.id,
            examples=dataset.example_count,
            duplicates=merged.duplicates,
        ),
        text("augment.reply.train_it", language, dataset=dataset.id),
    ]
    return "\n".join(lines)


def export_text(dataset_id: int, file_format: ExportFormat, language: Language) -> str:
    return text("curation.export.done", language, dataset=dataset_id, format=file_format)


def datasets_embed(datasets: list[Dataset], language: Language) -> discord.Embed:
    embed = discord.Embed(
        title=text("lists.datasets.title", language), colour=discord.Colour.green()
    )
    if not datasets:
        embed.description = text("lists.datasets.empty", language)
        return embed
    embed.description = "\n".join(
        text(
            "lists.datasets.line",
            language,
            id=d.id,
            name=_dataset_name(d),
            examples=d.example_count,
            method=d.method,
            by=discord.utils.escape_markdown(d.created_by_name),
            when=relative_time(d.created_at),
        )
        for d in datasets
    )
    embed.set_footer(text=text("lists.datasets.footer", language))
    return embed


# Names come from uploaded file names, which may be long: ten of them must fit in an embed.
DATASET_NAME_LENGTH = 80


def _dataset_name(dataset: Dataset) -> str:
    return _name(dataset.name)


def _name(name: str) -> str:
    if len(name) > DATASET_NAME_LENGTH:
        name = name[: DATASET_NAME_LENGTH - 1] + "…"
    return discord.utils.escape_markdown(name)
