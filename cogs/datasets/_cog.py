"""Discord glue for /augment and /datasets; the work is done by augment.job off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from augment import InputError, to_csv, to_xlsx
from augment.engine import METHODS
from augment.job import AugmentRequest, ModelDownload, RowsDone, run_augment_job
from bot.checks import staff_only
from bot.errors import explain
from bot.language import reply_language
from bot.paginator import PAGES_TIMEOUT_SECONDS, Page, page_window, send_pages
from bot.translator import localized
from cogs.datasets._progress import ThrottledProgress
from cogs.datasets._render import datasets_embed, progress_text, result_text
from i18n import Language, msg, text

if TYPE_CHECKING:
    from bot.client import KoboBot

PAGE_SIZE = 10
REVIEW_COPY_FORMATS = ("csv", "xlsx")


@contextlib.asynccontextmanager
async def problems_replace_the_reply(
    interaction: discord.Interaction, context: str
) -> AsyncIterator[None]:
    """After a public defer, an error becomes the reply itself.

    By then the reply may say "Waiting…" or show progress, and the error handler's followup would
    reach only the author and leave that standing: the problem replaces it instead, so the whole
    team sees what to fix and nothing looks unfinished.
    """
    try:
        yield
    except Exception as error:
        await interaction.edit_original_response(
            content=explain(error, context, reply_language(interaction)), attachments=[]
        )


class Datasets(commands.Cog):
    def __init__(self, bot: KoboBot):
        self.bot = bot
        self.settings = bot.settings
        self.datasets = bot.services.datasets
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
        method=[
            app_commands.Choice(name=localized(f"choice.augment_method.{name}"), value=name)
            for name in METHODS
        ],
        review_copy=[
            app_commands.Choice(name=localized(f"choice.review_copy.{name}"), value=name)
            for name in REVIEW_COPY_FORMATS
        ],
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
            user = interaction.user
            stem = PurePath(file.filename).stem
            dataset = await self.datasets.add(
                job.jsonl,
                name=f"{stem}-{method}",
                example_count=len(job.result.examples),
                source_file=file.filename,
                method=method,
                by_id=str(user.id),
                by_name=user.display_name,
            )
            files = [discord.File(io.BytesIO(job.jsonl), filename=f"{stem}-{method}.jsonl")]
            if review_copy:
                writer = to_csv if review_copy == "csv" else to_xlsx
                review = await asyncio.to_thread(writer, job.result.examples)
                files.append(discord.File(io.BytesIO(review), f"{stem}-{method}.{review_copy}"))
            await interaction.edit_original_response(
                content=result_text(job, dataset, language), attachments=files
            )

    @app_commands.command(name="datasets", description=localized("command.datasets.description"))
    @app_commands.describe(page=localized("command.datasets.option.page"))
    @app_commands.guild_only()
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
