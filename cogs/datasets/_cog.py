"""Discord glue for /augment and /datasets (list, show, search, merge, export); the work is
done by augment.job off the event loop and by curation/."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from augment import InputError, to_csv, to_xlsx
from augment.engine import METHODS
from augment.job import AugmentRequest, ModelDownload, RowsDone, run_augment_job
from bot.checks import staff_only
from bot.language import reply_language
from bot.paginator import PAGES_TIMEOUT_SECONDS, Page, page_window, send_pages
from bot.replies import problems_replace_the_reply
from bot.translator import localized, localized_choices
from cogs.datasets._progress import ThrottledProgress
from cogs.datasets._render import (
    datasets_embed,
    export_text,
    merged_text,
    progress_text,
    result_text,
    search_embed,
    show_embed,
)
from curation.augmented import augmented_name, store_augmented
from curation.export import EXPORT_FORMATS, export
from curation.merge import dataset_ids, merge
from curation.search import search, search_words
from curation.store import Person
from i18n import Language, LocalizedError, msg, text

if TYPE_CHECKING:
    from bot.client import KoboBot

PAGE_SIZE = 10
# /datasets show: a few whole examples fit one embed however long they are.
EXAMPLES_PAGE_SIZE = 8
REVIEW_COPY_FORMATS = ("csv", "xlsx")
BYTES_PER_MB = 1024 * 1024


def person(interaction: discord.Interaction) -> Person:
    return Person(str(interaction.user.id), interaction.user.display_name)


class Datasets(commands.Cog):
    # /datasets list, show, search, merge, export. Subcommands cannot be hidden from members
    # (Discord hides whole commands only): merge and export check for staff when run.
    group = app_commands.Group(
        name="datasets", description=localized("command.datasets.description"), guild_only=True
    )

    def __init__(self, bot: KoboBot):
        self.bot = bot
        self.settings = bot.settings
        self.datasets = bot.services.datasets
        self.store = bot.services.store
        # Two BERT runs on a small machine only slow each other down: one at a time.
        self.one_at_a_time = asyncio.Lock()
        self.pages_timeout = PAGES_TIMEOUT_SECONDS

    @app_commands.command(name="augment", description=localized("command.augment.description"))
    @app_commands.describe(
        file=localized("command.augment.option.file"),
        method=localized("command.augment.option.method"),
        count=localized("command.augment.option.count"),
        top_k=localized("command.augment.option.top_k"),
        system_prompt=localized("command.augment.option.system_prompt"),
        review_copy=localized("command.augment.option.review_copy"),
    )
    @app_commands.choices(
        method=localized_choices("augment_method", METHODS),
        review_copy=localized_choices("review_copy", REVIEW_COPY_FORMATS),
    )
    @app_commands.guild_only()
    @staff_only()
    async def augment(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        method: str,
        count: app_commands.Range[int, 1, 100],
        top_k: app_commands.Range[int, 1, 100] | None = None,
        system_prompt: app_commands.Range[str, 1, 4000] | None = None,
        review_copy: str | None = None,
    ):
        limit = self.settings.augment_max_file_bytes
        if file.size > limit:
            raise InputError(
                msg(
                    "augment.file.too_big",
                    file=file.filename,
                    size=f"{file.size:,}",
                    limit=f"{limit:,}",
                )
            )
        language = reply_language(interaction)
        await interaction.response.defer(thinking=True)
        async with problems_replace_the_reply(interaction, "in /augment"):
            data = await file.read()
            request = AugmentRequest(
                data=data,
                filename=file.filename,
                method=method,
                count=count,
                top_k=top_k,
                system_prompt=system_prompt,
            )
            if self.one_at_a_time.locked():
                await interaction.edit_original_response(
                    content=text("augment.reply.waiting", language)
                )
            async with self.one_at_a_time:
                progress: ThrottledProgress[RowsDone | ModelDownload] = ThrottledProgress(
                    lambda shown: interaction.edit_original_response(content=shown),
                    lambda update: progress_text(file.filename, method, update, language),
                )
                async with progress:
                    job = await asyncio.to_thread(
                        run_augment_job, request, self.settings, progress.report
                    )
            dataset = await store_augmented(self.datasets, request, job, person(interaction))
            stem = augmented_name(request)
            files = [discord.File(io.BytesIO(job.jsonl), filename=f"{stem}.jsonl")]
            if review_copy:
                writer = to_csv if review_copy == "csv" else to_xlsx
                review = await asyncio.to_thread(writer, job.result.examples)
                files.append(discord.File(io.BytesIO(review), f"{stem}.{review_copy}"))
            await interaction.edit_original_response(
                content=result_text(job, dataset, language), attachments=files
            )

    @group.command(name="list", description=localized("command.datasets.list.description"))
    @app_commands.describe(page=localized("command.datasets.option.page"))
    async def list_datasets(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1
    ):
        await send_pages(
            interaction, self._datasets_page, first_page=page, expire_after=self.pages_timeout
        )

    async def _datasets_page(self, asked: int, language: Language) -> Page:
        window = page_window(await self.datasets.count(), asked, PAGE_SIZE)
        datasets = await self.datasets.recent(limit=window.size, offset=window.offset)
        return Page(datasets_embed(datasets, language), window)

    @group.command(name="show", description=localized("command.datasets.show.description"))
    @app_commands.describe(
        dataset=localized("command.datasets.show.option.dataset"),
        page=localized("command.datasets.show.option.page"),
    )
    async def show(
        self,
        interaction: discord.Interaction,
        dataset: app_commands.Range[int, 1],
        page: app_commands.Range[int, 1, 100_000] = 1,
    ):
        shown = await self.datasets.get(dataset)
        if shown is None:
            raise LocalizedError(msg("curation.no_dataset", dataset=dataset))
        lineage = await self.datasets.lineage(dataset)
        decisions = await self.store.reviews.all(dataset)

        async def source(asked: int, language: Language) -> Page:
            window = page_window(shown.example_count, asked, EXAMPLES_PAGE_SIZE)
            examples = await self.store.examples.page(
                dataset, offset=window.offset, limit=window.size
            )
            embed = show_embed(shown, lineage, examples, decisions, language)
            return Page(embed, window)

        await send_pages(interaction, source, first_page=page, expire_after=self.pages_timeout)

    @group.command(name="search", description=localized("command.datasets.search.description"))
    @app_commands.describe(
        query=localized("command.datasets.search.option.query"),
        page=localized("command.datasets.search.option.page"),
    )
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 100],
        page: app_commands.Range[int, 1, 100_000] = 1,
    ):
        words = search_words(query)  # a bad query is refused before any reply

        async def source(asked: int, language: Language) -> Page:
            offset = (asked - 1) * PAGE_SIZE
            found = await search(self.store, query, offset=offset, limit=PAGE_SIZE)
            window = page_window(found.total, asked, PAGE_SIZE)
            if window.offset != offset:  # past the last page: show that one
                found = await search(self.store, query, offset=window.offset, limit=PAGE_SIZE)
            return Page(search_embed(query, words, found, language), window)

        await send_pages(interaction, source, first_page=page, expire_after=self.pages_timeout)

    @group.command(name="merge", description=localized("command.datasets.merge.description"))
    @app_commands.describe(
        datasets=localized("command.datasets.merge.option.datasets"),
        name=localized("command.datasets.merge.option.name"),
    )
    @staff_only()
    async def merge(
        self,
        interaction: discord.Interaction,
        datasets: app_commands.Range[str, 1, 100],
        name: app_commands.Range[str, 1, 80] | None = None,
    ):
        ids = dataset_ids(datasets)
        await interaction.response.defer(thinking=True)
        async with problems_replace_the_reply(interaction, "in /datasets merge"):
            merged = await merge(self.store, ids, person(interaction), name=name)
            await interaction.edit_original_response(
                content=merged_text(merged, reply_language(interaction))
            )

    @group.command(name="export", description=localized("command.datasets.export.description"))
    @app_commands.describe(
        dataset=localized("command.datasets.export.option.dataset"),
        format=localized("command.datasets.export.option.format"),
    )
    @app_commands.choices(format=localized_choices("export_format", EXPORT_FORMATS))
    @staff_only()
    async def export(
        self,
        interaction: discord.Interaction,
        dataset: app_commands.Range[int, 1],
        format: str,
    ):
        await interaction.response.defer(thinking=True, ephemeral=True)
        async with problems_replace_the_reply(interaction, "in /datasets export"):
            exported = await export(self.store, dataset, format)
            limit = interaction.filesize_limit
            if len(exported.data) > limit:
                raise LocalizedError(
                    msg(
                        "curation.export.too_big",
                        size=f"{len(exported.data) / BYTES_PER_MB:.1f}",
                        limit=f"{limit / BYTES_PER_MB:.0f}",
                        dataset=dataset,
                    )
                )
            await interaction.edit_original_response(
                content=export_text(dataset, format, reply_language(interaction)),
                attachments=[discord.File(io.BytesIO(exported.data), filename=exported.filename)],
            )
