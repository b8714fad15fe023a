"""How augmentation results and stored datasets look in Discord."""

from __future__ import annotations

import discord

from augment.job import AugmentJob
from bot.formatting import relative_time
from i18n import Language, text
from storage.datasets import Dataset

MESSAGE_LIMIT = 2000
SAMPLE_LENGTH = 120


def progress_text(filename: str, method: str, done: int, total: int) -> str:
    name = discord.utils.escape_markdown(filename)
    return f"Augmenting **{name}** with {method}: rows {done}/{total}"


def result_text(job: AugmentJob, dataset: Dataset) -> str:
    request = job.request
    lines = [
        f"**{discord.utils.escape_markdown(request.filename)}** → dataset **#{dataset.id}** "
        f"({request.method}, count {request.count})",
        *(f"- {line}" for line in job.summary()),
    ]
    if job.result.samples:
        lines.append("New sentences, for example:")
        lines += [f"> {_clip(sample)}" for sample in job.result.samples]
    lines.append(f"Train on it with `/train dataset:{dataset.id}`.")
    text = "\n".join(lines)
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


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
