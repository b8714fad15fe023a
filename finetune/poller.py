"""Follow unfinished fine-tuning jobs and deliver their notices exactly once.

Each :meth:`FineTunePoller.tick`:

1. Polls. No unfinished job (or no usable key) -> no call at all. Otherwise AT MOST TWO calls
   per unfinished job, to the job's own backend (OpenAI, or kobo's trainer: the same API through
   the same SDK, so one polling path serves both): ``retrieve`` the job, then either
   ``list_events`` (first page, newest first, read down to our cursor) or, once the job has
   succeeded, the result file (``files.content``) for the loss curve instead of events. The
   job's new state, new events and new notices are stored in ONE transaction; notices are
   unique per (job, kind, event), so a poll repeated after a crash (even kill -9 before commit)
   creates nothing twice.
2. Delivers every pending notice through the :class:`NoticeSink`, oldest first, then marks it.
   A crash between posting and marking re-delivers the notice with the same nonce on restart;
   Discord's ``enforce_nonce`` turns that repeat into the original message.

Statuses: whatever OpenAI reports is stored ("paused", and any status it adds later); only
succeeded, failed and cancelled end the polling.

Failures: 401/403 -> logged once by the service, no more calls to that backend until the key
changes or a restart; every unfinished job of that backend is marked "not followed" and its
channel told once (through the outbox, like any notice); the next poll that gets through clears
the mark; the other backend's jobs go on. 429 -> the SDK retried, we stop this tick's polling of
that backend and come back next tick; 5xx and timeouts -> the SDK
retried, that job waits for the next tick. Otherwise a failed poll never changes a job's state
and never creates a notice. If the result file of a succeeded job cannot be downloaded
(server error), the job stays "running" for us and the next tick tries again; an unreadable
result file gives the success notice without a chart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import openai
from apscheduler.job import Job as SchedulerJob
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from openai import AsyncOpenAI

from finetune.notices import DeliveryOutcome, DeliveryResult, Notice, NoticeKind, NoticeSink
from finetune.service import FineTuneService, download_loss_curve
from finetune.tracking import iso
from storage.finetune_jobs import JobRecord, StoredNotice

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 60
DEFAULT_PROGRESS_INTERVAL_S = 300.0
DEFAULT_EVENTS_PAGE = 50
DEFAULT_MAX_DELIVERY_ATTEMPTS = 60  # about an hour of retry-later answers at the default period
POLL_JOB_ID = "finetune-poll"


@dataclass
class TickReport:
    jobs_polled: int = 0
    notices_created: int = 0
    delivered: int = 0
    dropped: int = 0
    retry_later: int = 0


class FineTunePoller:
    def __init__(
        self,
        service: FineTuneService,
        sink: NoticeSink,
        *,
        progress_interval_s: float = DEFAULT_PROGRESS_INTERVAL_S,
        events_page_size: int = DEFAULT_EVENTS_PAGE,
        max_delivery_attempts: int = DEFAULT_MAX_DELIVERY_ATTEMPTS,
    ):
        self.service = service
        self.sink = sink
        self.progress_interval_s = progress_interval_s
        self.events_page_size = events_page_size
        self.max_delivery_attempts = max_delivery_attempts
        self._repo = service.repository
        self._poll_lock = asyncio.Lock()
        self._deliver_lock = asyncio.Lock()
        self._draining = False

    async def tick(self) -> TickReport:
        report = TickReport()
        # A tick the scheduler started just before shutdown must not touch a closing database.
        if not self._draining:
            await self.poll_jobs(report)
        if not self._draining:
            await self.deliver_pending(report)
        return report

    async def drain(self) -> None:
        """At shutdown, before the database closes: later ticks do nothing, and a tick in
        progress is waited for."""
        self._draining = True
        async with self._poll_lock, self._deliver_lock:
            pass

    # --- polling ----------------------------------------------------------------------------

    async def poll_jobs(self, report: TickReport | None = None) -> TickReport:
        report = report or TickReport()
        async with self._poll_lock:
            if not await self._repo.has_unfinished_jobs():
                return report
            # Each job is polled through its own backend's client; a backend that is rejected,
            # missing or rate limiting stops only its own jobs.
            stopped: set[str] = set()
            for record in await self._repo.unfinished_jobs():
                backend = record.backend
                if backend in stopped:
                    continue
                client = self.service.usable_client(backend)
                if client is None:
                    report.notices_created += await self.service.mark_jobs_not_followed(backend)
                    stopped.add(backend)
                    continue
                try:
                    report.notices_created += await self._poll_job(client, record)
                    report.jobs_polled += 1
                except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                    self.service.note_rejected_key(backend, exc)
                    report.notices_created += await self.service.mark_jobs_not_followed(backend)
                    stopped.add(backend)
                except openai.RateLimitError:
                    log.warning("%s is rate limiting job polling; trying again next tick", backend)
                    stopped.add(backend)
                except openai.APIError as exc:
                    log.warning(
                        "polling fine-tuning job %s failed (%s); trying again next tick",
                        record.job_id,
                        _describe(exc),
                    )
                except Exception:  # one job's surprise must not stop the others or delivery
                    log.exception("polling fine-tuning job %s failed", record.job_id)
        return report

    async def _poll_job(self, client: AsyncOpenAI, record: JobRecord) -> int:
        job = await client.fine_tuning.jobs.retrieve(record.job_id)
        if job.status == "succeeded":
            png = await download_loss_curve(client, job)
            return await self.service.record_snapshot(record.job_id, job, loss_curve_png=png)
        page = await client.fine_tuning.jobs.list_events(record.job_id, limit=self.events_page_size)
        return await self.service.record_snapshot(
            record.job_id, job, page.data, progress_interval_s=self.progress_interval_s
        )

    # --- delivery ---------------------------------------------------------------------------

    async def deliver_pending(self, report: TickReport | None = None) -> TickReport:
        """Deliver every pending notice; safe to call right after a cancel, too."""
        report = report or TickReport()
        async with self._deliver_lock:
            held_back: set[str] = set()  # a job whose notice must wait keeps its later ones back
            for stored in await self._repo.pending_notices():
                if stored.job_id in held_back:
                    continue
                result = await self._deliver_one(stored)
                now = iso(self.service.clock())
                if result.outcome is DeliveryOutcome.DELIVERED:
                    await self._repo.mark_delivered(stored.id, now)
                    report.delivered += 1
                elif result.outcome is DeliveryOutcome.UNDELIVERABLE:
                    reason = result.reason or "undeliverable"
                    log.warning(
                        "dropping %s notice of fine-tuning job %s: %s",
                        stored.kind,
                        stored.job_id,
                        reason,
                    )
                    await self._repo.mark_dropped(stored.id, reason, now)
                    report.dropped += 1
                else:
                    reason = result.reason or "retry later"
                    attempts = await self._repo.record_failed_attempt(stored.id, reason)
                    if attempts >= self.max_delivery_attempts:
                        log.warning(
                            "giving up on %s notice of fine-tuning job %s after %d attempts: %s",
                            stored.kind,
                            stored.job_id,
                            attempts,
                            reason,
                        )
                        await self._repo.mark_dropped(
                            stored.id, f"gave up after {attempts} attempts: {reason}", now
                        )
                        report.dropped += 1
                    else:
                        held_back.add(stored.job_id)
                        report.retry_later += 1
        return report

    async def _deliver_one(self, stored: StoredNotice) -> DeliveryResult:
        try:
            return await self.sink.deliver(notice_from_stored(stored))
        except Exception as exc:  # a sink bug must not stop the other notices
            log.exception("delivering %s notice of job %s raised", stored.kind, stored.job_id)
            return DeliveryResult.retry_later(f"{type(exc).__name__}: {exc}")


def notice_from_stored(stored: StoredNotice) -> Notice:
    p = stored.payload
    return Notice(
        id=stored.id,
        nonce=stored.nonce,
        kind=NoticeKind(stored.kind),
        job_id=stored.job_id,
        guild_id=p["guild_id"],
        channel_id=p["channel_id"],
        requested_by=p["requested_by"],
        base_model=p["base_model"],
        suffix=p.get("suffix"),
        created_at=stored.created_at,
        step=p.get("step"),
        total_steps=p.get("total_steps"),
        train_loss=p.get("train_loss"),
        fine_tuned_model=p.get("fine_tuned_model"),
        trained_tokens=p.get("trained_tokens"),
        duration_s=p.get("duration_s"),
        error_message=p.get("error_message"),
        cancelled_by=p.get("cancelled_by"),
        loss_curve_png=stored.image_png,
        backend=p.get("backend", "openai"),  # notices stored before local training: OpenAI's
    )


def add_poll_job(
    scheduler: BaseScheduler,
    poller: FineTunePoller,
    seconds: float = DEFAULT_POLL_SECONDS,
    *,
    first_run: datetime | None = None,
) -> SchedulerJob:
    """Run ``poller.tick`` ``seconds`` after the previous tick ended; never two at once.

    The job is paused while its tick runs and then rescheduled from the tick's end, so a slow tick
    (OpenAI answering slowly) delays the next one instead of overlapping it: APScheduler then
    never has to skip a run, which it would log as a warning on every interval. The first run is
    immediate by default, so a restart resumes jobs and pending notices at once.
    """

    async def tick_then_wait() -> None:
        # The job is gone once the cog unloads (shutdown): then it stays gone.
        with contextlib.suppress(JobLookupError):
            scheduler.pause_job(POLL_JOB_ID)
        try:
            await poller.tick()
        finally:
            with contextlib.suppress(JobLookupError):
                scheduler.modify_job(
                    POLL_JOB_ID,
                    next_run_time=datetime.now().astimezone() + timedelta(seconds=seconds),
                )

    return scheduler.add_job(
        tick_then_wait,
        "interval",
        seconds=seconds,
        id=POLL_JOB_ID,
        name="fine-tuning poller",
        max_instances=1,
        coalesce=True,
        replace_existing=True,
        next_run_time=first_run or datetime.now().astimezone(),
    )


def _describe(exc: openai.APIError) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}{f', HTTP {status}' if status else ''}"
