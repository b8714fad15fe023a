"""Discord glue for fine-tuning; the engine (finetune/) knows nothing of Discord."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Literal, get_args

import discord
from discord import app_commands
from discord.ext import commands

from augment.job import training_jsonl
from bot.checks import staff_only
from bot.language import reply_language, server_language
from bot.paginator import PAGES_TIMEOUT_SECONDS, Page, page_window, send_pages
from bot.translator import localized, localized_choices
from cogs.training._render import (
    LOSS_CURVE_FILENAME,
    Money,
    dataset_source,
    file_source,
    for_backend,
    job_embed,
    jobs_embed,
    plan_embed,
    start_announcement,
    status_words,
)
from cogs.training._sink import DiscordNoticeSink
from cogs.training._views import PREVIEW_TIMEOUT_SECONDS, AssignFineTune, StartOrCancel
from finetune.backends import BACKENDS
from finetune.plan import TrainingParams, aprepare_plan
from finetune.poller import POLL_JOB_ID, FineTunePoller, add_poll_job
from finetune.service import FineTuningUnavailable, UnknownJob
from i18n import Language, LocalizedError, Message, msg, text

if TYPE_CHECKING:
    from bot.client import KoboBot

log = logging.getLogger(__name__)

PAGE_SIZE = 10
JobStatusFilter = Literal["unfinished", "succeeded", "failed", "cancelled", "all"]


class Training(commands.Cog):
    def __init__(self, bot: KoboBot):
        self.bot = bot
        self.settings = bot.settings
        self.finetune = bot.services.finetune
        self.preview_timeout = PREVIEW_TIMEOUT_SECONDS
        self.pages_timeout = PAGES_TIMEOUT_SECONDS
        self.poller = FineTunePoller(
            self.finetune,
            DiscordNoticeSink(bot),
            progress_interval_s=self.settings.finetune_progress_seconds,
        )

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(AssignFineTune)
        add_poll_job(self.bot.scheduler, self.poller, self.settings.finetune_poll_seconds)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AssignFineTune)
        if self.bot.scheduler.get_job(POLL_JOB_ID):
            self.bot.scheduler.remove_job(POLL_JOB_ID)
        # A tick cut short mid-transaction would be retried anyway, but finishing it keeps
        # shutdown quiet and its notices posted.
        await self.poller.drain()

    # --- /train -------------------------------------------------------------------------

    @app_commands.command(name="train", description=localized("command.train.description"))
    @app_commands.describe(
        base_model=localized("command.train.option.base_model"),
        file=localized("command.train.option.file"),
        dataset=localized("command.train.option.dataset"),
        epochs=localized("command.train.option.epochs"),
        suffix=localized("command.train.option.suffix"),
        validation_file=localized("command.train.option.validation_file"),
        seed=localized("command.train.option.seed"),
        backend=localized("command.train.option.backend"),
    )
    @app_commands.choices(backend=localized_choices("backend", BACKENDS))
    @app_commands.guild_only()
    @staff_only()
    async def train(
        self,
        interaction: discord.Interaction,
        base_model: str,
        file: discord.Attachment | None = None,
        dataset: int | None = None,
        epochs: app_commands.Range[int, 1, 50] | None = None,
        suffix: app_commands.Range[str, 1, 64] | None = None,
        validation_file: discord.Attachment | None = None,
        seed: app_commands.Range[int, 0, 2_147_483_647] | None = None,
        backend: str | None = None,
    ):
        backend = backend or self.finetune.default_backend
        unavailable = self.finetune.unavailable_reason(backend)
        if unavailable is not None:
            raise FineTuningUnavailable(unavailable)
        if (file is None) == (dataset is None):
            raise LocalizedError(msg("training.error.file_or_dataset"))
        limit = self.settings.finetune_max_file_bytes
        for attachment in (file, validation_file):
            if attachment and attachment.size > limit:
                raise LocalizedError(
                    msg(
                        "training.error.file_too_big",
                        file=attachment.filename,
                        size=f"{attachment.size:,}",
                        limit=f"{limit:,}",
                    )
                )
        await interaction.response.defer(ephemeral=True, thinking=True)

        training, name, source = await self._training_data(file, dataset)
        validation = validation_name = None
        if validation_file is not None:
            validation, validation_name = await self._converted(validation_file)
        params = TrainingParams(
            base_model=base_model,
            epochs=epochs or "auto",
            suffix=suffix,
            seed=seed,
            backend=backend,  # type: ignore[arg-type]  (one of the choices)
        )
        plan = await aprepare_plan(
            training,
            training_filename=name,
            params=params,
            models=await self._base_models_of(backend),
            validation=validation,
            validation_filename=validation_name or "validation.jsonl",
        )
        money = Money.from_settings(self.settings)
        embed = plan_embed(plan, source, reply_language(interaction), money)
        if not plan.ok:
            await interaction.followup.send(embed=embed, ephemeral=True)
            return

        async def start(pressed: discord.Interaction) -> None:
            job = await self.finetune.start(
                plan,
                training,
                name,
                requested_by=str(pressed.user.id),
                guild_id=str(pressed.guild_id),
                channel_id=str(pressed.channel_id),
                validation_bytes=validation,
                validation_filename=validation_name or "validation.jsonl",
            )
            await pressed.edit_original_response(
                content=text("training.started", reply_language(pressed), job=f"`{job.job_id}`"),
                view=None,
            )
            # For everyone in the channel, like the notices that follow it.
            channel_language = server_language(self.settings, pressed.guild)
            await pressed.followup.send(
                start_announcement(pressed.user.mention, job, source, channel_language, money),
                allowed_mentions=discord.AllowedMentions(users=[pressed.user]),
            )

        view = StartOrCancel(interaction.user, interaction, start, self.preview_timeout)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    async def _training_data(
        self, file: discord.Attachment | None, dataset_id: int | None
    ) -> tuple[bytes, str, Message]:
        """Returns the JSONL bytes, a file name for OpenAI and what to call the data."""
        if file is not None:
            data, name = await self._converted(file)
            return data, name, file_source(file.filename)
        datasets = self.bot.services.datasets
        dataset = await datasets.get(dataset_id)
        if dataset is None:
            raise LocalizedError(msg("training.error.no_dataset", id=dataset_id))
        try:
            data = await asyncio.to_thread(datasets.file_path(dataset).read_bytes)
        except OSError as exc:
            raise LocalizedError(
                msg("training.error.dataset_unreadable", id=dataset.id, error=str(exc))
            ) from exc
        return data, PurePath(dataset.path).name, dataset_source(dataset.id, dataset.name)

    async def _converted(self, attachment: discord.Attachment) -> tuple[bytes, str]:
        data = await attachment.read()
        return await asyncio.to_thread(training_jsonl, data, attachment.filename, self.settings)

    async def _base_models_of(self, backend: str) -> Mapping[str, object]:
        """OpenAI's from the model table; the local ones as kobo's trainer lists them."""
        if backend == "local":
            return await self.finetune.local_base_models()
        return self.bot.services.base_models

    @train.autocomplete("base_model")
    async def _base_models(self, interaction: discord.Interaction, current: str):
        backend = getattr(interaction.namespace, "backend", None) or self.finetune.default_backend
        try:
            names = await self._base_models_of(backend)
        except LocalizedError:  # the trainer is unreachable: /train itself will say so
            return []
        return [
            app_commands.Choice(name=name, value=name)
            for name in names
            if current.casefold() in name.casefold()
        ][:25]

    @train.autocomplete("dataset")
    async def _datasets(self, interaction: discord.Interaction, current: str):
        language = reply_language(interaction)
        found = await self.bot.services.datasets.recent(limit=25, search=current)
        return [
            app_commands.Choice(
                name=text(
                    "training.choice.dataset",
                    language,
                    id=d.id,
                    name=d.name,
                    count=d.example_count,
                )[:100],
                value=d.id,
            )
            for d in found
        ]

    # --- following jobs -----------------------------------------------------------------

    @app_commands.command(name="jobs", description=localized("command.jobs.description"))
    @app_commands.describe(
        status=localized("command.jobs.option.status"),
        page=localized("command.jobs.option.page"),
    )
    @app_commands.choices(status=localized_choices("job_status", get_args(JobStatusFilter)))
    @app_commands.guild_only()
    async def jobs(
        self,
        interaction: discord.Interaction,
        status: str = "all",
        page: app_commands.Range[int, 1, 1000] = 1,
    ):
        async def jobs_page(asked: int, language: Language) -> Page:
            listed = None if status == "all" else status
            window = page_window(await self.finetune.count_jobs(listed), asked, PAGE_SIZE)
            jobs = await self.finetune.list_jobs(
                status=listed, limit=window.size, offset=window.offset
            )
            return Page(jobs_embed(jobs, status, language), window)

        await send_pages(interaction, jobs_page, first_page=page, expire_after=self.pages_timeout)

    @app_commands.command(name="job", description=localized("command.job.description"))
    @app_commands.describe(job_id=localized("command.job.option.job_id"))
    @app_commands.guild_only()
    async def job(self, interaction: discord.Interaction, job_id: str):
        job_id = job_id.strip()
        # An unknown id is refused before the public "thinking…": only whoever asked sees it.
        if await self.finetune.get_job(job_id, events=0) is None:
            raise UnknownJob(job_id[:80])
        await interaction.response.defer(thinking=True)
        details = await self.finetune.dashboard(job_id)  # asks OpenAI: checkpoints, chart...
        if details is None:
            raise UnknownJob(job_id[:80])
        # Only OpenAI's jobs cost money: their price is in the model table.
        priced = details.job.backend == "openai"
        embed = job_embed(
            details,
            reply_language(interaction),
            Money.from_settings(self.settings),
            self.bot.services.base_models.get(details.job.base_model) if priced else None,
        )
        png = details.live.loss_curve_png if details.live else None
        files = [discord.File(io.BytesIO(png), LOSS_CURVE_FILENAME)] if png else []
        await interaction.followup.send(embed=embed, files=files)

    @app_commands.command(name="cancel", description=localized("command.cancel.description"))
    @app_commands.describe(job_id=localized("command.cancel.option.job_id"))
    @app_commands.guild_only()
    @staff_only()
    async def cancel(self, interaction: discord.Interaction, job_id: str):
        job_id = job_id.strip()
        # Refusals (no usable key, unknown or finished job) come before the public
        # "thinking…", so only whoever asked sees them.
        await self.finetune.check_cancellable(job_id)
        await interaction.response.defer(thinking=True)
        job = await self.finetune.cancel(job_id, by=str(interaction.user.id))
        await interaction.followup.send(
            text(
                for_backend("training.cancel_asked", job.backend),
                reply_language(interaction),
                job=f"`{job.job_id}`",
            )
        )

    @job.autocomplete("job_id")
    @cancel.autocomplete("job_id")
    async def _job_ids(self, interaction: discord.Interaction, current: str):
        language = reply_language(interaction)
        jobs = await self.finetune.list_jobs(limit=100)
        return [
            app_commands.Choice(
                name=text(
                    "training.choice.job",
                    language,
                    job_id=j.job_id,
                    status=status_words(j.status, language),
                    model=j.base_model,
                )[:100],
                value=j.job_id,
            )
            for j in jobs
            if current.casefold() in j.job_id.casefold()
        ][:25]
