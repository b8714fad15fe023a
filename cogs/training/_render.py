"""How training plans, jobs and notices look in Discord, in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import discord
from babel.numbers import format_currency

from bot.formatting import relative_time
from bot.quantities import byte_size, duration, estimated_time
from config import Settings
from finetune.models import ModelSpec
from finetune.notices import Notice, NoticeKind
from finetune.plan import CostEstimate, TimeEstimate, TrainingPlan
from finetune.service import CHECKPOINT_METRICS, Checkpoint, JobDetails, status_text
from i18n import Language, Message, msg, text
from storage.finetune_jobs import JobRecord

SHOWN_PROBLEMS = 10
SHOWN_EVENTS_CHARS = 1024  # an embed field's limit
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
# Babel's locale for each language kobo speaks: where the currency sign goes, digit grouping.
MONEY_LOCALES: dict[Language, str] = {"ja": "ja_JP", "en": "en_US"}
# The reasons storage/finetune_jobs.py records for a job kobo does not follow, in words.
NOT_FOLLOWED_REASONS = {"key rejected": "training.not_followed.key_rejected"}


@dataclass(frozen=True)
class Money:
    """Shows USD amounts, and the same in COST_CURRENCY at COST_RATE when those are set."""

    currency: str | None = None
    rate: float | None = None  # units of ``currency`` per 1 USD

    @classmethod
    def from_settings(cls, settings: Settings) -> Money:
        return cls(settings.cost_currency, settings.cost_rate)

    def usd(self, amount: float, language: Language) -> str:
        return format_currency(amount, "USD", locale=MONEY_LOCALES[language])

    def text(self, usd: float, language: Language) -> str:
        """ "$1.23" or, with a local currency, "$1.23 (≈ ¥185)" / "$1.23（約 ￥185）"."""
        dollars = self.usd(usd, language)
        if self.currency is None or self.rate is None:
            return dollars
        local = format_currency(usd * self.rate, self.currency, locale=MONEY_LOCALES[language])
        return text("training.cost.approximately", language, usd=dollars, local=local)


def for_backend(key: str, backend: str) -> str:
    """The catalogue key of a text that differs for a job on kobo's trainer: ``<key>_local``."""
    return key if backend == "openai" else f"{key}_local"


def file_source(filename: str) -> Message:
    return msg("training.source.file", name=discord.utils.escape_markdown(filename))


def dataset_source(dataset_id: int, name: str) -> Message:
    return msg("training.source.dataset", id=dataset_id, name=discord.utils.escape_markdown(name))


def plan_embed(
    plan: TrainingPlan, source: Message, language: Language, money: Money
) -> discord.Embed:
    def t(key: str, **params: object) -> str:
        return text(key, language, **params)

    colour = discord.Colour.green() if plan.ok else discord.Colour.red()
    embed = discord.Embed(
        title=t("training.preview.title", source=source.render(language)), colour=colour
    )
    params = plan.params
    embed.add_field(name=t("training.field.base_model"), value=f"`{params.base_model}`")
    embed.add_field(
        name=t("training.field.suffix"),
        value=f"`{params.suffix}`" if params.suffix else t("training.preview.no_suffix"),
    )
    embed.add_field(
        name=t("training.field.seed"),
        value=str(params.seed) if params.seed is not None else t("training.preview.random_seed"),
    )
    training = plan.training
    embed.add_field(
        name=t("training.preview.examples"),
        value=t(
            "training.preview.valid_lines", valid=training.valid_examples, lines=training.lines
        ),
    )
    if training.tokens:
        tokens = training.tokens
        embed.add_field(
            name=t("training.preview.tokens_per_example"),
            value=t(
                "training.preview.token_range",
                min=tokens.min_tokens,
                median=f"{tokens.median_tokens:.0f}",
                max=tokens.max_tokens,
            ),
        )
    if plan.validation:
        embed.add_field(
            name=t("training.preview.validation_file"),
            value=t(
                "training.preview.valid_lines",
                valid=plan.validation.valid_examples,
                lines=plan.validation.lines,
            ),
        )
    if isinstance(plan.estimate, TimeEstimate):
        _add_time_estimate(embed, plan.estimate, language)
    if isinstance(plan.estimate, CostEstimate):
        e = plan.estimate
        epochs = t("training.preview.auto_epochs", epochs=e.epochs) if e.epochs_auto else e.epochs
        embed.add_field(
            name=t("training.field.estimated_cost"),
            value=t(
                "training.preview.cost_formula",
                cost=money.text(e.usd, language),
                tokens=f"{e.billed_tokens_per_epoch:,}",
                epochs=epochs,
                price=money.usd(e.usd_per_1m_tokens, language),
            ),
            inline=False,
        )
    if plan.problem_messages:
        shown = plan.problem_messages[:SHOWN_PROBLEMS]
        more = plan.problem_count - len(shown)
        lines = [f"• {discord.utils.escape_markdown(p.render(language))}" for p in shown]
        if more > 0:
            lines.append(t("training.preview.more_problems", count=more))
        embed.add_field(
            name=t("training.preview.problems", count=plan.problem_count),
            value="\n".join(lines)[:1024],
            inline=False,
        )
    if plan.warning_messages:
        lines = [
            f"• {discord.utils.escape_markdown(w.render(language))}" for w in plan.warning_messages
        ]
        embed.add_field(
            name=t("training.preview.warnings"), value="\n".join(lines)[:1024], inline=False
        )
    embed.set_footer(
        text=t("training.preview.press_start") if plan.ok else t("training.preview.fix_problems")
    )
    return embed


def _add_time_estimate(embed: discord.Embed, e: TimeEstimate, language: Language) -> None:
    """A local run: the estimated time from the trainer's throughput, then memory and disk."""

    def t(key: str, **params: object) -> str:
        return text(key, language, **params)

    epochs = t("training.preview.auto_epochs", epochs=e.epochs) if e.epochs_auto else e.epochs
    if e.seconds is None or e.chars_per_second is None:
        value = t("training.preview.time_unknown", chars=f"{e.chars_per_epoch:,}", epochs=epochs)
    else:
        value = t(
            "training.preview.time_formula",
            time=estimated_time(e.seconds, language),
            chars=f"{e.chars_per_epoch:,}",
            epochs=epochs,
            speed=f"{e.chars_per_second:,.0f}",
            basis=e.basis_message().render(language),
        )
    embed.add_field(name=t("training.field.estimated_time"), value=value, inline=False)
    unknown = t("training.preview.unknown")
    needs = t(
        "training.preview.needs",
        device=f"`{e.device}`",
        memory=byte_size(e.memory_bytes) if e.memory_bytes else unknown,
        disk=byte_size(e.disk_bytes) if e.disk_bytes else unknown,
    )
    first_use = e.first_use_message(byte_size(e.first_use_bytes or 0))
    if first_use is not None:
        needs += "\n" + first_use.render(language)
    embed.add_field(name=t("training.field.needs"), value=needs, inline=False)


def job_line(job: JobRecord, language: Language) -> str:
    icon = STATUS_ICONS.get(job.status, "•")
    model = f" → `{job.fine_tuned_model}`" if job.fine_tuned_model else ""
    when = relative_time(job.created_at)
    who = f"<@{job.requested_by}>"
    status = status_words(job.status, language)
    line = f"{icon} `{job.job_id}` {status} · `{job.base_model}`{model} · {who} {when}"
    if job.not_followed_reason:
        reason = not_followed_reason(job.not_followed_reason, language)
        line += " · " + text("lists.jobs.not_followed", language, reason=reason)
    return line


def jobs_embed(jobs: list[JobRecord], status: str, language: Language) -> discord.Embed:
    """One page of /jobs; ``status`` is the filter chosen (a choice.job_status.* name)."""
    title = text("lists.jobs.title", language, status=text(f"choice.job_status.{status}", language))
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    if jobs:
        embed.description = "\n".join(job_line(j, language) for j in jobs)
    else:
        embed.description = text("lists.jobs.empty", language)
    embed.set_footer(text=text("lists.jobs.footer", language))
    return embed


def job_embed(
    details: JobDetails, language: Language, money: Money, base_model: ModelSpec | None
) -> discord.Embed:
    """What OpenAI's dashboard shows about a job: its status, hyperparameters as resolved, the
    estimated finish, checkpoints with their metrics, trained tokens and cost, the chart."""

    def t(key: str, **params: object) -> str:
        return text(key, language, **params)

    job, live = details.job, details.live
    status = live.status if live else job.status
    embed = discord.Embed(
        title=f"{STATUS_ICONS.get(status, '')} {job.job_id}", colour=discord.Colour.blurple()
    )
    embed.add_field(name=t("training.field.status"), value=status_words(status, language))
    embed.add_field(name=t("training.field.base_model"), value=f"`{job.base_model}`")
    embed.add_field(name=t("training.field.started_by"), value=f"<@{job.requested_by}>")
    embed.add_field(
        name=t("training.field.data"), value=discord.utils.escape_markdown(job.training_filename)
    )
    hyperparameters = live.hyperparameters if live else job.hyperparameters
    embed.add_field(
        name=t("training.field.hyperparameters"),
        value=hyperparameter_text(hyperparameters, language),
        inline=False,
    )
    if live and live.device:
        embed.add_field(name=t("training.field.device"), value=f"`{_escaped(live.device)}`")
    if live and live.estimated_finish:
        embed.add_field(
            name=t("training.field.estimated_finish"),
            value=discord.utils.format_dt(datetime.fromtimestamp(live.estimated_finish, UTC), "R"),
        )
    if job.fine_tuned_model:
        embed.add_field(
            name=t("training.field.model"), value=f"`{job.fine_tuned_model}`", inline=False
        )
    trained_tokens = (live.trained_tokens if live else None) or job.trained_tokens
    if trained_tokens:
        embed.add_field(name=t("training.field.trained_tokens"), value=f"{trained_tokens:,}")
    if job.backend == "local":
        if job.estimated_seconds is not None:
            embed.add_field(
                name=t("training.field.estimated_time"),
                value=estimated_time(job.estimated_seconds, language),
            )
    else:
        embed.add_field(
            name=t("training.field.estimated_cost"),
            value=money.text(job.estimated_cost_usd, language),
        )
    if trained_tokens and base_model is not None:
        # OpenAI's API reports no cost: kobo works it out from the price in the model table.
        embed.add_field(
            name=t("training.field.actual_cost"),
            value=t(
                "training.job.actual_cost",
                cost=money.text(base_model.training_usd(trained_tokens), language),
                tokens=f"{trained_tokens:,}",
                price=money.usd(base_model.training_usd_per_1m_tokens, language),
            ),
            inline=False,
        )
    if live and live.checkpoints:
        embed.add_field(
            name=t("training.field.checkpoints"),
            value="\n".join(checkpoint_text(c, language) for c in live.checkpoints)[:1024],
            inline=False,
        )
    if status == "failed":
        reason = job.error_message or t(for_backend("training.notice.no_reason", job.backend))
        embed.add_field(
            name=t("training.field.error"),
            value=discord.utils.escape_markdown(reason)[:1024],
            inline=False,
        )
    if job.not_followed_reason:
        embed.add_field(
            name=t("training.field.not_followed"),
            value=t(
                "training.job.not_followed",
                reason=not_followed_reason(job.not_followed_reason, language),
                since=relative_time(job.not_followed_since),
                hint=t(for_backend("training.not_followed.hint", job.backend)),
            ),
            inline=False,
        )
    if details.live_problem is not None:
        embed.add_field(
            name=t("training.field.not_up_to_date"),
            value=details.live_problem.render(language)[:1024],
            inline=False,
        )
    if details.events:
        lines = [
            f"<t:{e.created_unix}:t> {discord.utils.escape_markdown(e.message)}"
            for e in details.events
        ]
        embed.add_field(
            name=t("training.field.recent_events"),
            value="\n".join(lines)[:SHOWN_EVENTS_CHARS],
            inline=False,
        )
    if live and live.loss_curve_png:
        embed.add_field(
            name=t("training.field.chart"), value=t("training.chart.legend"), inline=False
        )
        embed.set_image(url=f"attachment://{LOSS_CURVE_FILENAME}")
    return embed


def status_words(status: str, language: Language) -> str:
    """A job status in words; one kobo does not know is shown as OpenAI sent it (escaped)."""
    words = status_text(status)
    return words.render(language) if isinstance(words, Message) else _escaped(words)


def hyperparameter_text(hyperparameters: dict, language: Language) -> str:
    """As OpenAI resolved them once training started; "auto" until then."""

    def value(name: str) -> str:
        found = hyperparameters.get(name, "auto")
        if found == "auto":
            return text("training.job.auto", language)
        return f"{found:g}" if isinstance(found, float) else _escaped(str(found))

    words = text(
        "training.job.hyperparameters",
        language,
        epochs=value("n_epochs"),
        batch_size=value("batch_size"),
        learning_rate_multiplier=value("learning_rate_multiplier"),
    )
    # kobo's trainer also reports how it trains: all weights, or a LoRA adapter of some rank.
    separator = text("training.list_separator", language)
    if hyperparameters.get("full_fine_tune") is True:
        words += separator + text("training.job.full_fine_tune", language)
    elif "lora_rank" in hyperparameters:
        words += separator + text("training.job.lora_rank", language, rank=value("lora_rank"))
    if hyperparameters.get("merge") is True:
        words += separator + text("training.job.merged", language)
    return words


def checkpoint_text(checkpoint: Checkpoint, language: Language) -> str:
    metrics = [
        text(
            f"training.metric.{name}",
            language,
            value=f"{checkpoint.metrics[name]:.1%}"
            if name.endswith("accuracy")
            else f"{checkpoint.metrics[name]:.3f}",
        )
        for name in CHECKPOINT_METRICS
        if name in checkpoint.metrics
    ]
    return text(
        "training.job.checkpoint",
        language,
        step=checkpoint.step,
        metrics=text("training.list_separator", language).join(metrics) or "-",
        model=_escaped(checkpoint.model),
    )


def not_followed_reason(reason: str, language: Language) -> str:
    key = NOT_FOLLOWED_REASONS.get(reason)
    return text(key, language) if key else _escaped(reason)


def _escaped(words: str) -> str:
    return discord.utils.escape_markdown(words)


def start_announcement(
    who: str, job: JobRecord, source: Message, language: Language, money: Money
) -> str:
    where = dict(
        who=who, job=f"`{job.job_id}`", model=f"`{job.base_model}`", source=source.render(language)
    )
    if job.backend == "local":
        seconds = job.estimated_seconds
        time = estimated_time(seconds, language) if seconds is not None else "?"
        return text("training.notice.started_local", language, time=time, **where)
    return text(
        "training.notice.started",
        language,
        cost=money.text(job.estimated_cost_usd, language),
        **where,
    )


def notice_message(notice: Notice, language: Language) -> tuple[str, discord.Embed | None]:
    """The text (and, for a success, an embed with the loss curve) of a job notice, in the
    channel's language: notices are stored without words and put into words when posted."""

    def t(key: str, **params: object) -> str:
        return text(key, language, **params)

    job = f"`{notice.job_id}`"
    who = f"<@{notice.requested_by}>"
    if notice.kind is NoticeKind.RUNNING:
        return t("training.notice.running", job=job, model=f"`{notice.base_model}`"), None
    if notice.kind is NoticeKind.PROGRESS:
        step = f"{notice.step}/{notice.total_steps}" if notice.total_steps else f"{notice.step}"
        if notice.train_loss is None:
            return t("training.notice.progress", job=job, step=step), None
        loss = f"{notice.train_loss:.3f}"
        return t("training.notice.progress_loss", job=job, step=step, loss=loss), None
    if notice.kind is NoticeKind.FAILED:
        reason = notice.error_message or t(for_backend("training.notice.no_reason", notice.backend))
        return t("training.notice.failed", who=who, job=job, reason=reason), None
    if notice.kind is NoticeKind.CANCELLED:
        if notice.cancelled_by:
            by = f"<@{notice.cancelled_by}>"
            return t("training.notice.cancelled_by", job=job, who=by), None
        on_its_side = (
            "training.notice.cancelled_on_trainer"
            if notice.backend == "local"
            else "training.notice.cancelled_on_openai"
        )
        return t(on_its_side, job=job), None
    if notice.kind is NoticeKind.KEY_REJECTED:
        return (
            t(
                for_backend("training.notice.key_rejected", notice.backend),
                who=who,
                job=job,
                detail=notice.error_message or "?",
                hint=t(for_backend("training.not_followed.hint", notice.backend)),
            ),
            None,
        )
    model = notice.fine_tuned_model or "?"
    embed = discord.Embed(
        title=t("training.notice.finished_title"),
        colour=discord.Colour.green(),
        description=f"`{model}`",
    )
    if notice.trained_tokens:
        embed.add_field(name=t("training.field.trained_tokens"), value=f"{notice.trained_tokens:,}")
    if notice.duration_s:
        embed.add_field(
            name=t("training.field.duration"), value=duration(notice.duration_s, language)
        )
    embed.add_field(
        name=t("training.field.assign_it"),
        value=t("training.notice.assign_command", model=model),
        inline=False,
    )
    if notice.loss_curve_png:
        embed.add_field(
            name=t("training.field.chart"), value=t("training.chart.legend"), inline=False
        )
        embed.set_image(url=f"attachment://{LOSS_CURVE_FILENAME}")
    embed.timestamp = datetime.now(UTC)
    return t("training.notice.succeeded", who=who, job=job, model=f"`{model}`"), embed
