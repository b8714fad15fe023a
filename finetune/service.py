"""Start, cancel and look up fine-tuning jobs on OpenAI or on kobo's own trainer; knows nothing of
Discord.

Both backends speak OpenAI's fine-tuning API and are driven through the same SDK, one client
each (finetune/backends.py); a job is recorded with its backend, and every action on it uses that
backend's client. Without an OpenAI key (or with local training off) the service still constructs:
actions that need the missing backend raise :class:`FineTuningUnavailable` with a message staff
can act on, and the poller makes no calls to it. Look-ups (list_jobs, get_job, succeeded_models)
read only our database, so they keep working and show the history. When a backend rejects the key
(401/403) the service logs that once and makes no further calls to THAT backend until its key
changes or the bot restarts; its unfinished jobs are then marked "not followed", and their
channels told once. The other backend's jobs go on.
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

from finetune.backends import MESSAGE_PART, NOT_CONFIGURED, Backend, BackendName
from finetune.local_models import LocalBaseModel, LocalServing, parse_local_models
from finetune.plan import CostEstimate, TimeEstimate, TrainingParams, TrainingPlan
from finetune.results import ResultFileError, loss_curve_png
from finetune.tracking import iso, key_rejected_notice, track
from i18n import LocalizedError, Message, msg
from storage.database import Database
from storage.finetune_jobs import FineTuneJobRepository, JobEvent, JobRecord

log = logging.getLogger(__name__)

# Stored in the job's row (a code, not a text): the cogs say it in each reader's language.
NOT_FOLLOWED_KEY_REJECTED = "key rejected"


class FineTuningUnavailable(LocalizedError):
    """A backend cannot be used (no OpenAI key, local training off, a rejected key)."""


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


# OpenAI keeps the checkpoints of a job's last three epochs; a page of ten holds them all.
CHECKPOINTS_PAGE = 10


# OpenAI's checkpoint metrics, in the order its dashboard lists them (kobo's trainer reports the
# same ones).
CHECKPOINT_METRICS = (
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
)


@dataclass(frozen=True)
class Checkpoint:
    """A model saved at the end of an epoch, with OpenAI's metrics at that step."""

    step: int
    model: str  # fine_tuned_model_checkpoint: usable like any model name
    metrics: dict[str, float]  # those of CHECKPOINT_METRICS that were reported


@dataclass(frozen=True)
class LiveJob:
    """What OpenAI's dashboard shows about a job now, asked for when someone looks (/job)."""

    status: str
    hyperparameters: dict[str, Any]  # as resolved once training starts ("auto" -> a number)
    estimated_finish: int | None  # Unix seconds; None unless running
    trained_tokens: int | None
    checkpoints: list[Checkpoint]  # oldest first
    loss_curve_png: bytes | None
    device: str | None = None  # kobo's trainer: where it trains ("cpu"/"cuda") once started


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
        local_client: AsyncOpenAI | None = None,
        local_serving: LocalServing | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        """``client`` talks to OpenAI, ``local_client`` to kobo's trainer; None = not set up.
        ``local_serving``: where this bot serves local fine-tunes itself (None: elsewhere)."""
        self.backends: dict[str, Backend] = {
            "openai": Backend("openai", client),
            "local": Backend("local", local_client),
        }
        self.repository = FineTuneJobRepository(db)
        self.local_serving = local_serving
        self.clock = clock
        self._start_lock = asyncio.Lock()

    # --- availability -----------------------------------------------------------------------

    def backend(self, name: str) -> Backend:
        return self.backends[name]

    @property
    def default_backend(self) -> BackendName:
        """What /train uses when not told: kobo's trainer (OpenAI is winding down self-serve
        fine-tuning), unless local training is off and an OpenAI key is set; with neither, the
        trainer, which then says how to turn local training on."""
        if self.backends["local"].client is None and self.backends["openai"].client is not None:
            return "openai"
        return "local"

    def unavailable_reason(self, backend: str) -> Message | None:
        """Why nothing can be sent to ``backend`` now, or None when it can."""
        return self.backends[backend].unavailable_reason

    def usable_client(self, backend: str) -> AsyncOpenAI | None:
        return self.backends[backend].usable_client()

    def note_rejected_key(self, backend: str, exc: openai.APIStatusError) -> None:
        self.backends[backend].note_rejected_key(exc)

    def _require_client(self, backend: str) -> AsyncOpenAI:
        return require_client(self.backends[backend])

    def _translate(self, backend: str, exc: openai.APIError, doing: Message) -> LocalizedError:
        return translate_error(self.backends[backend], exc, doing)

    async def close(self) -> None:
        """Close the SDK's HTTP connections (at shutdown)."""
        for backend in self.backends.values():
            await backend.close()

    async def local_base_models(self) -> dict[str, LocalBaseModel]:
        """The base models kobo's trainer can train, with its throughput and needs."""
        return await list_local_base_models(self.backends["local"], self.local_serving)

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
        """:func:`submit_job` and record the job, for the poller to follow and tell its channel.
        A plan starts at most one job."""
        self._require_client(plan.params.backend)
        _check_plan_matches(plan, training_bytes, validation_bytes)
        assert plan.estimate is not None and plan.model is not None  # guaranteed by plan.ok
        async with self._start_lock:
            existing = await self.repository.get_job_by_plan(plan.plan_id)
            if existing is not None:
                raise AlreadyStarted(existing)
            submitted = await submit_job(
                self.backends[plan.params.backend],
                plan,
                training_bytes,
                filename,
                validation_bytes=validation_bytes,
                validation_filename=validation_filename,
            )
            job, params, estimate = submitted.job, plan.params, plan.estimate
            now = iso(self.clock())
            record = JobRecord(
                job_id=job.id,
                plan_id=plan.plan_id,
                base_model=params.base_model,
                training_file_id=submitted.training_file_id,
                training_filename=filename,
                validation_file_id=submitted.validation_file_id,
                requested_epochs=str(params.epochs),
                hyperparameters=job.hyperparameters.model_dump(exclude_none=True),
                suffix=params.suffix,
                seed=params.seed,
                guild_id=guild_id,
                channel_id=channel_id,
                requested_by=requested_by,
                created_at=now,
                status=job.status,
                estimated_tokens=(
                    estimate.trained_chars
                    if isinstance(estimate, TimeEstimate)
                    else estimate.trained_tokens
                ),
                estimated_cost_usd=estimate.usd if isinstance(estimate, CostEstimate) else 0.0,
                openai_created_unix=job.created_at,
                updated_at=now,
                backend=params.backend,
                estimated_seconds=(
                    estimate.seconds if isinstance(estimate, TimeEstimate) else None
                ),
            )
            try:
                await self.repository.insert_job(record)
            except Exception:
                # The job runs but is not recorded: name it so staff can find it.
                log.exception("fine-tuning job %s started but could not be recorded", job.id)
                raise
        log.info("fine-tuning job %s started on %s (%s)", job.id, params.base_model, params.backend)
        return record

    async def check_cancellable(self, job_id: str) -> JobRecord:
        """Raise what :meth:`cancel` would refuse with before asking its backend anything (a job
        kobo did not start, no usable key for its backend, a finished job), so callers can
        refuse up front."""
        record = await self.repository.get_job(job_id)
        self._require_client(record.backend if record else self.default_backend)
        if record is None:
            raise UnknownJob(job_id)
        if record.finished:
            raise JobAlreadyFinished(record)
        return record

    async def cancel(self, job_id: str, by: str) -> JobRecord:
        """Cancel on the job's backend (kobo's trainer kills the training process); the
        "cancelled by" notice goes out with the poller's next delivery."""
        record = await self.check_cancellable(job_id)
        client = self._require_client(record.backend)
        # Recorded first: if we crash right after OpenAI cancels, the poller still knows who did.
        await self.repository.set_cancel_request(job_id, by, iso(self.clock()))
        try:
            job = await client.fine_tuning.jobs.cancel(job_id)
        except openai.APIError as exc:
            await self.repository.set_cancel_request(job_id, None, None)
            doing = msg("training.doing.cancel", job_id=job_id)
            raise self._translate(record.backend, exc, doing) from exc
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
        """Store what the job's backend said about it plus its notices, in one transaction."""
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

    async def mark_jobs_not_followed(self, backend: str) -> int:
        """While ``backend`` rejects the key, none of its jobs is polled: mark each of its
        unfinished jobs "not followed" and queue one notice for its channel (once until a poll
        gets through again). Returns how many notices were new; does nothing while the key is
        not rejected."""
        found = self.backends[backend]
        if not found.key_rejected:
            return 0
        now = self.clock()
        notices = {
            job.job_id: key_rejected_notice(job, found.rejected_detail, now=now)
            for job in await self.repository.unfinished_jobs()
            if job.backend == backend and job.not_followed_reason is None
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
        backend = details.job.backend
        client = self.usable_client(backend)
        if client is None:
            return replace(details, live_problem=self.unavailable_reason(backend))
        try:
            job = await client.fine_tuning.jobs.retrieve(job_id)
            page = await client.fine_tuning.jobs.checkpoints.list(job_id, limit=CHECKPOINTS_PAGE)
            png = await download_loss_curve(client, job) if job.status == "succeeded" else None
        except openai.APIError as exc:
            doing = msg("training.doing.look_up", job_id=job_id)
            problem = self._translate(backend, exc, doing)
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
            # kobo's own field: the SDK keeps fields it does not know as extras.
            device=(job.model_extra or {}).get("kobo_device"),
        )
        return replace(details, live=live)

    async def succeeded_models(self) -> list[str]:
        """Fine-tuned model names, newest first (for /assign's autocomplete)."""
        return await self.repository.succeeded_models()


def require_client(backend: Backend) -> AsyncOpenAI:
    """The backend's client, or :class:`FineTuningUnavailable` saying why it cannot be used."""
    reason = backend.unavailable_reason
    if reason is not None or backend.client is None:
        raise FineTuningUnavailable(reason or msg(NOT_CONFIGURED[backend.name]))
    return backend.client


def translate_error(backend: Backend, exc: openai.APIError, doing: Message) -> LocalizedError:
    """What went wrong, for staff, naming the backend; a rejected key stops that backend."""
    part = MESSAGE_PART[backend.name]
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        backend.note_rejected_key(exc)
        return FineTuningUnavailable(
            backend.unavailable_reason or msg(NOT_CONFIGURED[backend.name])
        )
    if isinstance(exc, openai.RateLimitError):
        return FineTuningError(msg(f"training.{part}.rate_limited", doing=doing))
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return FineTuningError(msg(f"training.{part}.unreachable", doing=doing))
    if isinstance(exc, openai.InternalServerError):
        return FineTuningError(msg(f"training.{part}.server_error", doing=doing))
    if isinstance(exc, openai.APIStatusError):
        # The service's own words (English): they name what it refused, which no translation can.
        return FineTuningError(
            msg(f"training.{part}.refused", doing=doing, detail=_openai_message(exc))
        )
    return FineTuningError(msg("training.openai.failed", doing=doing, detail=str(exc)))


async def list_local_base_models(
    backend: Backend, serving: LocalServing | None = None
) -> dict[str, LocalBaseModel]:
    """The base models kobo's trainer (``backend``) can train, from its ``GET /v1/models``,
    with the GGUF export each still needs where ``serving`` says fine-tunes are served."""
    client = require_client(backend)
    try:
        page = await client.models.list()
    except openai.APIError as exc:
        raise translate_error(backend, exc, msg("training.doing.list_models")) from exc
    models = parse_local_models(page.data)
    if serving is None:
        return models
    return await asyncio.to_thread(serving.with_export_bytes, models)


async def submit_job(
    backend: Backend,
    plan: TrainingPlan,
    training_bytes: bytes,
    filename: str,
    *,
    validation_bytes: bytes | None = None,
    validation_filename: str = "validation.jsonl",
) -> SubmittedJob:
    """Upload the file(s) and create the job on ``backend``, recording nothing (the command line
    follows such a job itself; :meth:`FineTuneService.start` records it). The plan must be ok
    and prepared from exactly these bytes."""
    params = plan.params
    client = require_client(backend)
    _check_plan_matches(plan, training_bytes, validation_bytes)
    uploaded: list[str] = []
    creating = False
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
        creating = True
        job = await client.fine_tuning.jobs.create(
            model=params.base_model,
            training_file=training_file.id,
            validation_file=validation_file_id,
            suffix=params.suffix,
            seed=params.seed,
            method={
                "type": "supervised",
                "supervised": {"hyperparameters": _hyperparameters(params)},
            },
        )
    except openai.APIError as exc:
        await _delete_files(client, uploaded)
        if creating and fine_tuning_withdrawn(backend, exc):
            raise FineTuningUnavailable(msg("training.openai.fine_tuning_withdrawn")) from exc
        raise translate_error(backend, exc, msg("training.doing.start")) from exc
    return SubmittedJob(job, training_file.id, validation_file_id)


def fine_tuning_withdrawn(backend: Backend, exc: openai.APIError) -> bool:
    """OpenAI refused to create a job with a key it had just accepted for the upload: it no
    longer offers fine-tuning to this organisation (the self-serve wind-down answers
    ``jobs.create`` with 403). The key is fine for everything else, so it is not "rejected"."""
    return backend.name == "openai" and isinstance(exc, openai.PermissionDeniedError)


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


@dataclass(frozen=True)
class SubmittedJob:
    """A job created on a backend, with the ids of the files it trains on."""

    job: FineTuningJob
    training_file_id: str
    validation_file_id: str | None


def _hyperparameters(params: TrainingParams) -> dict[str, Any]:
    """``method.supervised.hyperparameters``: OpenAI's, plus kobo's trainer's own (LoRA rank,
    full fine-tune, merge) when asked for; OpenAI's jobs never get those."""
    found: dict[str, Any] = {"n_epochs": params.epochs}
    if params.backend == "local":
        if params.lora_rank is not None:
            found["lora_rank"] = params.lora_rank
        if params.full_fine_tune:
            found["full_fine_tune"] = True
        if params.merge:
            found["merge"] = True
    return found


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
