"""Discord glue for fine-tuning; the engine (finetune/) knows nothing of Discord."""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePath
from typing import TYPE_CHECKING, Literal, get_args

import discord
from discord import app_commands
from discord.ext import commands

from augment.job import training_jsonl
from bot.checks import staff_only
from bot.errors import UserFacingError
from bot.paginator import PAGES_TIMEOUT_SECONDS, Page, page_window, send_pages
from bot.translator import localized
from cogs.training._render import job_embed, jobs_embed, plan_embed
from cogs.training._sink import DiscordNoticeSink
from cogs.training._views import PREVIEW_TIMEOUT_SECONDS, AssignFineTune, StartOrCancel
from finetune.plan import TrainingParams, aprepare_plan
from finetune.poller import POLL_JOB_ID, FineTunePoller, add_poll_job
from finetune.service import FineTuningError
from i18n import Language

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

    @app_commands.command(name="train", description="Fine-tune a model on a dataset")
    @app_commands.describe(
        base_model="The OpenAI model to fine-tune",
        file="Training data: chat .jsonl, or a sheet (.xlsx/.csv/.tsv) as for /augment",
        dataset="A dataset made with /augment (see /datasets)",
        epochs="Passes over the data (leave empty for OpenAI's automatic choice)",
        suffix="Up to 64 characters added to the new model's name",
        validation_file="Optional validation data (.jsonl or sheet)",
        seed="Optional seed, for a run that can be repeated",
    )
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
    ):
        if not self.finetune.available:
            raise UserFacingError(self.finetune.unavailable_reason or "Fine-tuning is unavailable.")
        if (file is None) == (dataset is None):
            raise UserFacingError("Give the training data as `file` or as `dataset`, not both.")
        for attachment in (file, validation_file):
            if attachment and attachment.size > self.settings.finetune_max_file_bytes:
                raise UserFacingError(
                    f"{attachment.filename}: {attachment.size:,} bytes is over the limit of "
                    f"{self.settings.finetune_max_file_bytes:,} bytes."
                )
        await interaction.response.defer(ephemeral=True, thinking=True)

        training, name, source = await self._training_data(file, dataset)
        validation = validation_name = None
        if validation_file is not None:
            validation, validation_name = await self._converted(validation_file)
        params = TrainingParams(
            base_model=base_model, epochs=epochs or "auto", suffix=suffix, seed=seed
        )
        plan = await aprepare_plan(
            training,
            training_filename=name,
            params=params,
            models=self.bot.services.base_models,
            validation=validation,
            validation_filename=validation_name or "validation.jsonl",
        )
        embed = plan_embed(plan, source)
        if not plan.ok:
            await interaction.followup.send(embed=embed, ephemeral=True)
            return

        async def start(pressed: discord.Interaction) -> None:
            try:
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
            except FineTuningError as exc:
                raise UserFacingError(str(exc)) from exc
            await pressed.edit_original_response(
                content=f"Started `{job.job_id}`. I'll post in this channel as it goes.",
                view=None,
            )
            await pressed.followup.send(
                f"🚀 {pressed.user.mention} started fine-tune `{job.job_id}` on "
                f"`{job.base_model}` with {source} (estimated ${job.estimated_cost_usd:.2f}). "
                "I'll post here when it's done.",
                allowed_mentions=discord.AllowedMentions(users=[pressed.user]),
            )

        view = StartOrCancel(interaction.user, interaction, start, self.preview_timeout)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    async def _training_data(
        self, file: discord.Attachment | None, dataset_id: int | None
    ) -> tuple[bytes, str, str]:
        """Returns the JSONL bytes, a file name for OpenAI and words for the preview."""
        if file is not None:
            data, name = await self._converted(file)
            return data, name, f"**{discord.utils.escape_markdown(file.filename)}**"
        datasets = self.bot.services.datasets
        dataset = await datasets.get(dataset_id)
        if dataset is None:
            raise UserFacingError(f"There is no dataset #{dataset_id}; see /datasets.")
        try:
            data = await asyncio.to_thread(datasets.file_path(dataset).read_bytes)
        except OSError as exc:
            raise UserFacingError(f"Dataset #{dataset.id}'s file cannot be read: {exc}") from exc
        return data, PurePath(dataset.path).name, f"dataset **#{dataset.id}** ({dataset.name})"

    async def _converted(self, attachment: discord.Attachment) -> tuple[bytes, str]:
        data = await attachment.read()
        return await asyncio.to_thread(training_jsonl, data, attachment.filename, self.settings)

    @train.autocomplete("base_model")
    async def _base_models(self, interaction: discord.Interaction, current: str):
        return [
            app_commands.Choice(name=name, value=name)
            for name in self.bot.services.base_models
            if current.casefold() in name.casefold()
        ][:25]

    @train.autocomplete("dataset")
    async def _datasets(self, interaction: discord.Interaction, current: str):
        found = await self.bot.services.datasets.recent(limit=25, search=current)
        return [
            app_commands.Choice(
                name=f"#{d.id} {d.name} ({d.example_count} examples)"[:100], value=d.id
            )
            for d in found
        ]

    # --- following jobs -----------------------------------------------------------------

    @app_commands.command(name="jobs", description=localized("command.jobs.description"))
    @app_commands.describe(
        status=localized("command.jobs.option.status"),
        page=localized("command.jobs.option.page"),
    )
    @app_commands.choices(
        status=[
            app_commands.Choice(name=localized(f"choice.job_status.{status}"), value=status)
            for status in get_args(JobStatusFilter)
        ]
    )
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

    @app_commands.command(name="job", description="One fine-tuning job and its recent events")
    @app_commands.describe(job_id="The job id (ftjob-…)")
    @app_commands.guild_only()
    async def job(self, interaction: discord.Interaction, job_id: str):
        details = await self.finetune.get_job(job_id.strip())
        if details is None:
            raise UserFacingError(f"I know no job `{job_id.strip()[:80]}`; see /jobs.")
        await interaction.response.send_message(embed=job_embed(details))

    @app_commands.command(name="cancel", description="Cancel a running fine-tuning job")
    @app_commands.describe(job_id="The job id (ftjob-…)")
    @app_commands.guild_only()
    @staff_only()
    async def cancel(self, interaction: discord.Interaction, job_id: str):
        job_id = job_id.strip()
        try:
            # Refusals (no usable key, unknown or finished job) come before the public
            # "thinking…", so only whoever asked sees them.
            await self.finetune.check_cancellable(job_id)
            await interaction.response.defer(thinking=True)
            job = await self.finetune.cancel(job_id, by=str(interaction.user.id))
        except FineTuningError as exc:
            raise UserFacingError(str(exc)) from exc
        await interaction.followup.send(
            f"Asked OpenAI to cancel `{job.job_id}`; this channel hears when it has stopped."
        )

    @job.autocomplete("job_id")
    @cancel.autocomplete("job_id")
    async def _job_ids(self, interaction: discord.Interaction, current: str):
        jobs = await self.finetune.list_jobs(limit=100)
        return [
            app_commands.Choice(
                name=f"{j.job_id} · {j.status} · {j.base_model}"[:100], value=j.job_id
            )
            for j in jobs
            if current.casefold() in j.job_id.casefold()
        ][:25]


def _choice(label: str, value: int | str) -> app_commands.Choice:
    return app_commands.Choice(name=label[:100], value=value)
