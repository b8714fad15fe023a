"""How training plans, jobs and notices look in Discord."""

from __future__ import annotations

from datetime import UTC, datetime

import discord

from bot.formatting import relative_time
from finetune.notices import Notice, NoticeKind
from finetune.plan import TrainingPlan
from finetune.service import JobDetails
from i18n import Language, text
from storage.finetune_jobs import JobRecord

SHOWN_PROBLEMS = 10
LOSS_CURVE_FILENAME = "training-loss.png"
STATUS_ICONS = {
    "validating_files": "🔎",
    "queued": "⏳",
    "running": "🏃",
    "paused": "⏸️",
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "🛑",
}
NOT_FOLLOWED_HINT = (
    "the job may still be running at OpenAI. Fix OPENAI_API_KEY in the environment or .env and "
    "restart kobo to follow it again."
)


def plan_embed(plan: TrainingPlan, source: str) -> discord.Embed:
    colour = discord.Colour.green() if plan.ok else discord.Colour.red()
    embed = discord.Embed(title=f"Fine-tune on {source}", colour=colour)
    params = plan.params
    embed.add_field(name="Base model", value=f"`{params.base_model}`")
    embed.add_field(name="Suffix", value=f"`{params.suffix}`" if params.suffix else "none")
    embed.add_field(name="Seed", value=str(params.seed) if params.seed is not None else "random")
    training = plan.training
    embed.add_field(
        name="Examples", value=f"{training.valid_examples} valid of {training.lines} lines"
    )
    if training.tokens:
        t = training.tokens
        embed.add_field(
            name="Tokens per example",
            value=f"min {t.min_tokens}, median {t.median_tokens:.0f}, max {t.max_tokens}",
        )
    if plan.validation:
        embed.add_field(
            name="Validation file",
            value=f"{plan.validation.valid_examples} valid of {plan.validation.lines} lines",
        )
    if plan.estimate:
        e = plan.estimate
        epochs = f"{e.epochs} (auto)" if e.epochs_auto else str(e.epochs)
        embed.add_field(
            name="Estimated cost",
            value=(
                f"**${e.usd:.2f}** = {e.billed_tokens_per_epoch:,} tokens × {epochs} epochs × "
                f"${e.usd_per_1m_tokens:g} per 1M tokens"
            ),
            inline=False,
        )
    if plan.problems:
        shown = plan.problems[:SHOWN_PROBLEMS]
        more = plan.problem_count - len(shown)
        text = "\n".join(f"• {discord.utils.escape_markdown(p)}" for p in shown)
        if more > 0:
            text += f"\n… and {more} more"
        embed.add_field(name=f"Problems ({plan.problem_count})", value=text[:1024], inline=False)
    if plan.warnings:
        text = "\n".join(f"• {w}" for w in plan.warnings)
        embed.add_field(name="Warnings", value=text[:1024], inline=False)
    embed.set_footer(
        text="Press Start to upload and begin, or Cancel."
        if plan.ok
        else "Fix these problems and run /train again; nothing was uploaded."
    )
    return embed


def job_line(job: JobRecord) -> str:
    icon = STATUS_ICONS.get(job.status, "•")
    model = f" → `{job.fine_tuned_model}`" if job.fine_tuned_model else ""
    when = relative_time(job.created_at)
    who = f"<@{job.requested_by}>"
    line = f"{icon} `{job.job_id}` {_status(job)} · `{job.base_model}`{model} · {who} {when}"
    if job.not_followed_reason:
        line += f" · ⚠️ not followed: {job.not_followed_reason}"
    return line


def _status(job: JobRecord) -> str:
    # Any status, as OpenAI reported it (even one kobo does not know): text from the network.
    return discord.utils.escape_markdown(job.status)


def jobs_embed(jobs: list[JobRecord], status: str, language: Language) -> discord.Embed:
    """One page of /jobs; ``status`` is the filter chosen (a choice.job_status.* name)."""
    title = text("lists.jobs.title", language, status=text(f"choice.job_status.{status}", language))
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    if jobs:
        embed.description = "\n".join(job_line(j) for j in jobs)
    else:
        embed.description = text("lists.jobs.empty", language)
    embed.set_footer(text=text("lists.jobs.footer", language))
    return embed


def job_embed(details: JobDetails) -> discord.Embed:
    job = details.job
    embed = discord.Embed(
        title=f"{STATUS_ICONS.get(job.status, '')} {job.job_id}", colour=discord.Colour.blurple()
    )
    embed.add_field(name="Status", value=_status(job))
    embed.add_field(name="Base model", value=f"`{job.base_model}`")
    embed.add_field(name="Started by", value=f"<@{job.requested_by}>")
    embed.add_field(name="Data", value=job.training_filename)
    embed.add_field(name="Estimated cost", value=f"${job.estimated_cost_usd:.2f}")
    if job.fine_tuned_model:
        embed.add_field(name="Model", value=f"`{job.fine_tuned_model}`", inline=False)
    if job.trained_tokens:
        embed.add_field(name="Trained tokens", value=f"{job.trained_tokens:,}")
    if job.error_message:
        embed.add_field(name="Error", value=job.error_message[:1024], inline=False)
    if job.not_followed_reason:
        embed.add_field(
            name="⚠️ Not followed",
            value=f"{job.not_followed_reason} ({relative_time(job.not_followed_since)}): "
            f"{NOT_FOLLOWED_HINT}",
            inline=False,
        )
    if details.events:
        lines = [
            f"<t:{e.created_unix}:t> {discord.utils.escape_markdown(e.message)}"
            for e in details.events
        ]
        embed.add_field(name="Recent events", value="\n".join(lines)[:1024], inline=False)
    return embed


def assign_hint(model: str) -> str:
    return f"`/assign stack_id:<number> model:{model}`"


def notice_message(notice: Notice) -> tuple[str, discord.Embed | None]:
    """The text (and, for a success, an embed with the loss curve) of a job notice."""
    job = f"`{notice.job_id}`"
    who = f"<@{notice.requested_by}>"
    if notice.kind is NoticeKind.RUNNING:
        return f"🏃 Fine-tune {job} ({notice.base_model}) started training.", None
    if notice.kind is NoticeKind.PROGRESS:
        of = f"/{notice.total_steps}" if notice.total_steps else ""
        loss = f", training loss {notice.train_loss:.3f}" if notice.train_loss is not None else ""
        return f"📈 Fine-tune {job}: step {notice.step}{of}{loss}.", None
    if notice.kind is NoticeKind.FAILED:
        reason = notice.error_message or "OpenAI gave no reason"
        return f"❌ {who} fine-tune {job} failed: {reason}", None
    if notice.kind is NoticeKind.CANCELLED:
        by = f"by <@{notice.cancelled_by}>" if notice.cancelled_by else "on OpenAI's side"
        return f"🛑 Fine-tune {job} was cancelled {by}.", None
    if notice.kind is NoticeKind.KEY_REJECTED:
        detail = f" ({notice.error_message})" if notice.error_message else ""
        return (
            f"⚠️ {who} I stopped following fine-tune {job}: OpenAI rejected the API key{detail}; "
            f"{NOT_FOLLOWED_HINT}",
            None,
        )
    model = notice.fine_tuned_model or "?"
    embed = discord.Embed(
        title="Fine-tune finished", colour=discord.Colour.green(), description=f"`{model}`"
    )
    if notice.trained_tokens:
        embed.add_field(name="Trained tokens", value=f"{notice.trained_tokens:,}")
    if notice.duration_s:
        embed.add_field(name="Duration", value=_duration(notice.duration_s))
    embed.add_field(name="Assign it", value=assign_hint(model), inline=False)
    if notice.loss_curve_png:
        embed.set_image(url=f"attachment://{LOSS_CURVE_FILENAME}")
    embed.timestamp = datetime.now(UTC)
    return f"✅ {who} fine-tune {job} succeeded: `{model}`", embed


def _duration(seconds: int) -> str:
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{max(minutes, 1)} min"
