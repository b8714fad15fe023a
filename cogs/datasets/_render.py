"""How augmentation results and stored datasets look in Discord."""

from __future__ import annotations

import discord

from augment.job import AugmentJob, ModelDownload, RowsDone
from bot.formatting import relative_time
from i18n import Language, text
from storage.datasets import Dataset

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
    reply = "\n".join(lines)
    return reply if len(reply) <= MESSAGE_LIMIT else reply[: MESSAGE_LIMIT - 1] + "…"


def _clip(sentence: str) -> str:
    one_line = " ".join(sentence.split())
    clipped = one_line if len(one_line) <= SAMPLE_LENGTH else one_line[: SAMPLE_LENGTH - 1] + "…"
    return discord.utils.escape_markdown(clipped)


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
    name = dataset.name
    if len(name) > DATASET_NAME_LENGTH:
        name = name[: DATASET_NAME_LENGTH - 1] + "…"
    return discord.utils.escape_markdown(name)
