"""Start, cancel and look up OpenAI fine-tuning jobs; knows nothing of Discord.

Without an OpenAI key the service still constructs: actions that need OpenAI (start, cancel)
raise :class:`FineTuningUnavailable` with a message staff can act on, and the poller makes no
calls. Look-ups (list_jobs, get_job, succeeded_models) read only our database, so they keep
working and show the history. When OpenAI rejects the key (401/403) the service logs that once
and makes no further calls until the client's key changes or the bot restarts; unfinished jobs are
then marked "not followed", and their channels told once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

from finetune.plan import TrainingPlan
from finetune.results import ResultFileError, loss_curve_png
from finetune.tracking import iso, key_rejected_notice, track
from i18n import LocalizedError, Message, msg
from storage.database import Database
from storage.finetune_jobs import FineTuneJobRepository, JobEvent, JobRecord

log = logging.getLogger(__name__)

NO_KEY_MESSAGE = msg("training.unavailable.no_key")
# Stored in the job's row (a code, not a text): the cogs say it in each reader's language.
NOT_FOLLOWED_KEY_REJECTED = "key rejected"


class FineTuningUnavailable(LocalizedError):
    """No usable OpenAI key: nothing that needs OpenAI can run."""


class FineTuningError(LocalizedError):
    """An action failed; the message is meant for staff."""


class PlanNotReady(FineTuningError):
    pass


class UnknownJob(FineTuningError):
    def __init__(self, job_id: str):
        super().__init__(msg("training.error.unknown_job", job_id=job_id))
        self.job_id = job_id


class JobAlreadyFinished(FineTuningError):
    def __init__(self, job: JobRecord):
        super().__init__(
            msg(
                "training.error.already_finished",
                job_id=job.job_id,
                status=status_text(job.status),
            )
        )
        self.job = job


class AlreadyStarted(FineTuningError):
    def __init__(self, job: JobRecord):
        super().__init__(msg("training.error.already_started", job_id=job.job_id))
        self.job = job


# The statuses OpenAI documents, as words in the catalogue; any other is shown as it came.
KNOWN_STATUSES = (
    "validating_files",
    "queued",
    "running",
    "paused",
    "succeeded",
    "failed",
    "cancelled",
)


def status_text(status: str) -> Message | str:
    """A job status for people: a catalogue word for the known ones, else OpenAI's own."""
    return msg(f"training.status.{status}") if status in KNOWN_STATUSES else status


def make_openai_client(
    api_key: str | None,
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 2,
) -> AsyncOpenAI | None:
    """The SDK client from settings, or None when no key is set (the service then says so)."""
    if api_key is None or not api_key.strip():
        return None
    return AsyncOpenAI(
        api_key=api_key.strip(), base_url=base_url, timeout=timeout, max_retries=max_retries
    )


# OpenAI keeps the checkpoints of a job's last three epochs; a page of ten holds them all.
CHECKPOINTS_PAGE = 10


@dataclass(frozen=True)
class Checkpoint:
    """A model saved at the end of an epoch, with OpenAI's metrics at that step."""

    step: int
    model: str  # fine_tuned_model_checkpoint: usable like any model name
    # train_loss, train_mean_token_accuracy, valid_loss, valid_mean_token_accuracy,
    # full_valid_loss, full_valid_mean_token_accuracy: those OpenAI reported
    metrics: dict[str, float]


@dataclass(frozen=True)
class LiveJob:
    """What OpenAI's dashboard shows about a job now, asked for when someone looks (/job)."""

    status: str
    hyperparameters: dict[str, Any]  # as resolved once training starts ("auto" -> a number)
    estimated_finish: int | None  # Unix seconds; None unless running
    trained_tokens: int | None
    checkpoints: list[Checkpoint]  # oldest first
    loss_curve_png: bytes | None


@dataclass(frozen=True)
class JobDetails:
    job: JobRecord
    events: list[JobEvent]  # newest first
    live: LiveJob | None = None  # only from :meth:`FineTuneService.dashboard`
    live_problem: Message | None = None  # why OpenAI could not be asked just now


def utc_now() -> datetime:
    return datetime.now(UTC)


class FineTuneService:
    def __init__(
        self,
        client: AsyncOpenAI | None,
        db: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._client = client
        self.repository = FineTuneJobRepository(db)
        self.clock = clock
        self._rejected_key: str | None = None
        self._rejected_detail = ""
        self._start_lock = asyncio.Lock()

    # --- availability -----------------------------------------------------------------------

    @property
    def unavailable_reason(self) -> Message | None:
        """Why nothing can be sent to OpenAI now, or None when it can."""
        if self._client is None:
            return NO_KEY_MESSAGE
        if self.key_rejected:
            return msg("training.unavailable.key_rejected", detail=self._rejected_detail)
        return None

    @property
    def key_rejected(self) -> bool:
        """OpenAI rejected the key the client has now (a key never set is not "rejected")."""
        return self._client is not None and self._rejected_key == self._client.api_key

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def usable_client(self) -> AsyncOpenAI | None:
        return self._client if self.available else None

    def _require_client(self) -> AsyncOpenAI:
        reason = self.unavailable_reason
        if reason is not None or self._client is None:
            raise FineTuningUnavailable(reason or NO_KEY_MESSAGE)
        return self._client

    def note_rejected_key(self, exc: openai.APIStatusError) -> None:
        """Stop calling OpenAI with this key; logged once, without the key or OpenAI's message
        (which quotes part of the key)."""
        if self._client is None or self._rejected_key == self._client.api_key:
            return
        code = getattr(exc, "code", None)
        self._rejected_detail = f"HTTP {exc.status_code}{f', {code}' if code else ''}"
        self._rejected_key = self._client.api_key
        log.error(
            "OpenAI rejected the API key (%s); fine-tuning makes no more OpenAI calls until the"
            " key changes or the bot restarts",
            self._rejected_detail,
        )

    def _translate(self, exc: openai.APIError, doing: Message) -> LocalizedError:
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            self.note_rejected_key(exc)
            return FineTuningUnavailable(self.unavailable_reason or NO_KEY_MESSAGE)
        if isinstance(exc, openai.RateLimitError):
            return FineTuningError(msg("training.openai.rate_limited", doing=doing))
        if isinstance(exc, openai.APIConnectionError):  # includes timeouts
            return FineTuningError(msg("training.openai.unreachable", doing=doing))
        if isinstance(exc, openai.InternalServerError):
            return FineTuningError(msg("training.openai.server_error", doing=doing))
        if isinstance(exc, openai.APIStatusError):
            # OpenAI's own words (English): they name what it refused, which no translation can.
            return FineTuningError(
                msg("training.openai.refused", doing=doing, detail=_openai_message(exc))
            )
        return FineTuningError(msg("training.openai.failed", doing=doing, detail=str(exc)))

    async def close(self) -> None:
        """Close the SDK's HTTP connections (at shutdown)."""
        if self._client is not None:
            await self._client.close()

    # --- actions ----------------------------------------------------------------------------

    async def start(
        self,
        plan: TrainingPlan,
        training_bytes: bytes,
        filename: str,
        requested_by: str,
        guild_id: str,
        channel_id: str,
        *,
        validation_bytes: bytes | None = None,
        validation_filename: str = "validation.jsonl",
    ) -> JobRecord:
        """Upload the file(s), create the job on OpenAI and record it. The plan must be ok and
        prepared from exactly these bytes; a plan starts at most one job."""
        client = self._require_client()
        _check_plan_matches(plan, training_bytes, validation_bytes)
        assert plan.estimate is not None and plan.model is not None  # guaranteed by plan.ok
        async with self._start_lock:
            existing = await self.repository.get_job_by_plan(plan.plan_id)
            if existing is not None:
                raise AlreadyStarted(existing)
            uploaded: list[str] = []
            try:
                training_file = await client.files.create(
                    file=(filename, training_bytes, "application/jsonl"), purpose="fine-tune"
                )
                uploaded.append(training_file.id)
                validation_file_id = None
                if validation_bytes is not None:
                    validation_file = await client.files.create(
                        file=(validation_filename, validation_bytes, "application/jsonl"),
                        purpose="fine-tune",
                    )
                    uploaded.append(validation_file.id)
                    validation_file_id = validation_file.id
                params = plan.params
                job = await client.fine_tuning.jobs.create(
                    model=params.base_model,
                    training_file=training_file.id,
                    validation_file=validation_file_id,
                    suffix=params.suffix,
                    seed=params.seed,
                    method={
                        "type": "supervised",
                        "supervised": {"hyperparameters": {"n_epochs": params.epochs}},
                    },
                )
            except openai.APIError as exc:
                await self._delete_files(client, uploaded)
                raise self._translate(exc, msg("training.doing.start")) from exc
            now = iso(self.clock())
            record = JobRecord(
                job_id=job.id,
                plan_id=plan.plan_id,
                base_model=params.base_model,
                training_file_id=training_file.id,
                training_filename=filename,
                validation_file_id=validation_file_id,
                requested_epochs=str(params.epochs),
                hyperparameters=job.hyperparameters.model_dump(exclude_none=True),
                suffix=params.suffix,
                seed=params.seed,
                guild_id=guild_id,
                channel_id=channel_id,
                requested_by=requested_by,
                created_at=now,
                status=job.status,
                estimated_tokens=plan.estimate.trained_tokens,
                estimated_cost_usd=plan.estimate.usd,
                openai_created_unix=job.created_at,
                updated_at=now,
            )
            try:
                await self.repository.insert_job(record)
            except Exception:
                # The job runs on OpenAI but is not recorded: name it so staff can find it.
                log.exception("fine-tuning job %s started but could not be recorded", job.id)
                raise
        log.info("fine-tuning job %s started on %s", job.id, params.base_model)
        return record

    async def check_cancellable(self, job_id: str) -> JobRecord:
        """Raise what :meth:`cancel` would refuse with before asking OpenAI anything (no usable
        key, a job kobo did not start, a finished job), so callers can refuse up front."""
        self._require_client()
        record = await self.repository.get_job(job_id)
        if record is None:
            raise UnknownJob(job_id)
        if record.finished:
            raise JobAlreadyFinished(record)
        return record

    async def cancel(self, job_id: str, by: str) -> JobRecord:
        """Cancel on OpenAI; the "cancelled by" notice goes out with the poller's next delivery."""
        await self.check_cancellable(job_id)
        client = self._require_client()
        # Recorded first: if we crash right after OpenAI cancels, the poller still knows who did.
        await self.repository.set_cancel_request(job_id, by, iso(self.clock()))
        try:
            job = await client.fine_tuning.jobs.cancel(job_id)
        except openai.APIError as exc:
            await self.repository.set_cancel_request(job_id, None, None)
            raise self._translate(exc, msg("training.doing.cancel", job_id=job_id)) from exc
        await self.record_snapshot(job_id, job)
        updated = await self.repository.get_job(job_id)
        assert updated is not None
        return updated

    async def record_snapshot(
        self,
        job_id: str,
        job: FineTuningJob,
        page: Sequence[FineTuningJobEvent] = (),
        *,
        progress_interval_s: float = 0.0,
        loss_curve_png: bytes | None = None,
    ) -> int:
        """Store what OpenAI said about a job plus its notices, in one transaction."""
        record = await self.repository.get_job(job_id)
        if record is None:
            raise UnknownJob(job_id)
        tracked = track(
            record,
            job,
            page,
            now=self.clock(),
            progress_interval_s=progress_interval_s,
            loss_curve_png=loss_curve_png,
        )
        return await self.repository.apply_update(tracked.update, tracked.events, tracked.notices)

    async def mark_jobs_not_followed(self) -> int:
        """While OpenAI rejects the key, no job is polled: mark each unfinished job "not followed"
        and queue one notice for its channel (once until a poll gets through again). Returns how
        many notices were new; does nothing while the key is not rejected."""
        if not self.key_rejected:
            return 0
        now = self.clock()
        notices = {
            job.job_id: key_rejected_notice(job, self._rejected_detail, now=now)
            for job in await self.repository.unfinished_jobs()
            if job.not_followed_reason is None
        }
        if not notices:
            return 0
        return await self.repository.mark_not_followed(notices, NOT_FOLLOWED_KEY_REJECTED, iso(now))

    # --- look-ups (database only) -----------------------------------------------------------

    async def list_jobs(
        self, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[JobRecord]:
        """Newest first. ``status`` is a status as OpenAI reports it, or "unfinished" (any but
        succeeded, failed and cancelled)."""
        if status == "unfinished":
            return await self.repository.list_jobs(unfinished=True, limit=limit, offset=offset)
        statuses = None if status is None else (status,)
        return await self.repository.list_jobs(statuses, limit=limit, offset=offset)

    async def count_jobs(self, status: str | None = None) -> int:
        """How many jobs :meth:`list_jobs` lists with this ``status``, on all its pages."""
        if status == "unfinished":
            return await self.repository.count_jobs(unfinished=True)
        return await self.repository.count_jobs(None if status is None else (status,))

    async def get_job(self, job_id: str, events: int = 10) -> JobDetails | None:
        record = await self.repository.get_job(job_id)
        if record is None:
            return None
        return JobDetails(record, await self.repository.recent_events(job_id, events))

    async def dashboard(self, job_id: str, events: int = 10) -> JobDetails | None:
        """:meth:`get_job` plus what OpenAI says now: resolved hyperparameters, the estimated
        finish, checkpoints with their metrics and, once it succeeded, the loss curve. When
        OpenAI cannot be asked, ``live_problem`` says why and the stored state is all there is."""
        details = await self.get_job(job_id, events)
        if details is None:
            return None
        client = self.usable_client()
        if client is None:
            return replace(details, live_problem=self.unavailable_reason)
        try:
            job = await client.fine_tuning.jobs.retrieve(job_id)
            page = await client.fine_tuning.jobs.checkpoints.list(job_id, limit=CHECKPOINTS_PAGE)
            png = await download_loss_curve(client, job) if job.status == "succeeded" else None
        except openai.APIError as exc:
            problem = self._translate(exc, msg("training.doing.look_up", job_id=job_id))
            log.warning("looking up fine-tuning job %s failed: %s", job_id, type(exc).__name__)
            return replace(details, live_problem=problem.message)
        checkpoints = sorted(
            (
                Checkpoint(
                    c.step_number,
                    c.fine_tuned_model_checkpoint,
                    c.metrics.model_dump(exclude_none=True, exclude={"step"}),
                )
                for c in page.data
            ),
            key=lambda c: c.step,
        )
        live = LiveJob(
            status=job.status,
            hyperparameters=job.hyperparameters.model_dump(exclude_none=True),
            estimated_finish=job.estimated_finish,
            trained_tokens=job.trained_tokens,
            checkpoints=checkpoints,
            loss_curve_png=png,
        )
        return replace(details, live=live)

    async def succeeded_models(self) -> list[str]:
        """Fine-tuned model names, newest first (for /assign's autocomplete)."""
        return await self.repository.succeeded_models()

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    async def _delete_files(client: AsyncOpenAI, file_ids: list[str]) -> None:
        for file_id in file_ids:
            try:
                await client.files.delete(file_id)
            except openai.APIError as exc:  # best effort: an orphan file costs nothing much
                log.warning("could not delete uploaded file %s: %s", file_id, type(exc).__name__)


async def download_loss_curve(client: AsyncOpenAI, job: FineTuningJob) -> bytes | None:
    """The training-loss chart from a succeeded job's result file, or None when there is none
    to draw (no file, a file that is gone or unreadable: logged). Other API errors raise."""
    if not job.result_files:
        log.warning("fine-tuning job %s succeeded without a result file", job.id)
        return None
    try:
        content = await client.files.content(job.result_files[0])
    except openai.NotFoundError:
        log.warning("result file of fine-tuning job %s is gone; no loss curve", job.id)
        return None
    try:
        # The chart has no words, only the model's name: it is the same for every reader.
        title = job.fine_tuned_model or job.id
        return await asyncio.to_thread(loss_curve_png, content.content, title=title)
    except ResultFileError as exc:
        log.warning("no loss curve for fine-tuning job %s: %s", job.id, exc)
        return None


def _openai_message(exc: openai.APIStatusError) -> str:
    """OpenAI's own words ("Invalid file format ..."), without the SDK's "Error code" prefix."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return exc.message


def _check_plan_matches(
    plan: TrainingPlan, training_bytes: bytes, validation_bytes: bytes | None
) -> None:
    if not plan.ok:
        # The first problem, put into the reader's language together with this message.
        first = plan.problem_messages[0] if plan.problem_messages else "-"
        raise PlanNotReady(
            msg("training.error.plan_has_problems", count=plan.problem_count, first=first)
        )
    if hashlib.sha256(training_bytes).hexdigest() != plan.training.sha256:
        raise PlanNotReady(msg("training.error.training_file_changed"))
    if (plan.validation is None) != (validation_bytes is None) or (
        plan.validation is not None
        and validation_bytes is not None
        and hashlib.sha256(validation_bytes).hexdigest() != plan.validation.sha256
    ):
        raise PlanNotReady(msg("training.error.validation_file_changed"))
