"""Turn what OpenAI reports about a job into our stored state and the notices it causes.

Pure functions: no I/O, so the poller and :meth:`FineTuneService.cancel` share one set of rules
and the rules are testable without a server.

Events: OpenAI lists a job's events newest first, and ``after=<id>`` pages to OLDER events, so
"events since the last one we saw" is the first page read down to our cursor. If more events
arrived than fit on a page we skip the gap: notices come from the job's status and the newest
metrics event, which are always on the first page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

from finetune.notices import NoticeKind, make_nonce
from storage.finetune_jobs import JobEvent, JobRecord, JobUpdate, NewNotice


@dataclass(frozen=True)
class Tracked:
    update: JobUpdate
    events: list[JobEvent]
    notices: list[NewNotice]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_events(record: JobRecord, page: Sequence[FineTuningJobEvent]) -> list[FineTuningJobEvent]:
    """The events of ``page`` (newest first) that are newer than the job's cursor."""
    fresh = []
    for event in page:
        if event.id == record.last_event_id:
            break
        if record.last_event_unix is not None and event.created_at < record.last_event_unix:
            break
        fresh.append(event)
    return fresh


def track(
    record: JobRecord,
    job: FineTuningJob,
    page: Sequence[FineTuningJobEvent],
    *,
    now: datetime,
    progress_interval_s: float,
    loss_curve_png: bytes | None = None,
) -> Tracked:
    fresh = new_events(record, page)
    status = job.status
    notices: list[NewNotice] = []
    last_progress_at: str | None = None

    def notice(kind: NoticeKind, key: str, image: bytes | None = None, **fields: Any) -> None:
        notices.append(_new_notice(record, kind, key, image, **fields))

    if status == "running":
        notice(NoticeKind.RUNNING, "running")  # the outbox's UNIQUE key makes repeats no-ops
        metrics = next((e for e in fresh if e.type == "metrics" and _metrics(e)), None)
        if metrics is not None and _progress_due(record, now, progress_interval_s):
            data = _metrics(metrics)
            notice(
                NoticeKind.PROGRESS,
                metrics.id,
                step=_int(data.get("step")),
                total_steps=_int(data.get("total_steps")),
                train_loss=_float(data.get("train_loss")),
            )
            last_progress_at = iso(now)
    elif status == "succeeded":
        duration = job.finished_at - job.created_at if job.finished_at else None
        notice(
            NoticeKind.SUCCEEDED,
            "succeeded",
            loss_curve_png,
            fine_tuned_model=job.fine_tuned_model,
            trained_tokens=job.trained_tokens,
            duration_s=duration,
        )
    elif status == "failed":
        notice(NoticeKind.FAILED, "failed", error_message=_failure_message(job, fresh))
    elif status == "cancelled":
        notice(NoticeKind.CANCELLED, "cancelled", cancelled_by=record.cancel_requested_by)

    newest = fresh[0] if fresh else None
    update = JobUpdate(
        job_id=record.job_id,
        status=status,
        updated_at=iso(now),
        hyperparameters=job.hyperparameters.model_dump(exclude_none=True),
        fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens,
        error_message=_failure_message(job, fresh) if status == "failed" else None,
        openai_created_unix=job.created_at,
        finished_unix=job.finished_at,
        last_event_id=newest.id if newest else None,
        last_event_unix=newest.created_at if newest else None,
        last_progress_at=last_progress_at,
    )
    # Oldest first, so that insertion order breaks ties between events of the same second.
    return Tracked(update, [_stored_event(e) for e in reversed(fresh)], notices)


def key_rejected_notice(record: JobRecord, detail: str, *, now: datetime) -> NewNotice:
    """Tells the job's channel that kobo stopped following it. Keyed by the moment, so a key
    rejected again after a good one was set tells the channel again."""
    return _new_notice(record, NoticeKind.KEY_REJECTED, iso(now), error_message=detail)


def _new_notice(
    record: JobRecord, kind: NoticeKind, key: str, image: bytes | None = None, **fields: Any
) -> NewNotice:
    payload = {
        "guild_id": record.guild_id,
        "channel_id": record.channel_id,
        "requested_by": record.requested_by,
        "base_model": record.base_model,
        "suffix": record.suffix,
        "backend": record.backend,
        **fields,
    }
    return NewNotice(kind.value, key, make_nonce(record.job_id, kind, key), payload, image)


def _progress_due(record: JobRecord, now: datetime, interval_s: float) -> bool:
    if record.last_progress_at is None:
        return True
    return (now - parse_iso(record.last_progress_at)).total_seconds() >= interval_s


def _failure_message(job: FineTuningJob, fresh: Sequence[FineTuningJobEvent]) -> str | None:
    """OpenAI's own reason, or None when it gave none (the notice then says so, in the
    channel's language: stored notices hold no text of kobo's)."""
    if job.error is not None and job.error.message:
        return job.error.message
    error_event = next((e for e in fresh if e.level == "error"), None)
    return error_event.message if error_event else None


def _metrics(event: FineTuningJobEvent) -> Mapping[str, Any]:
    return event.data if isinstance(event.data, Mapping) else {}


def _stored_event(event: FineTuningJobEvent) -> JobEvent:
    data = dict(event.data) if isinstance(event.data, Mapping) and event.data else None
    return JobEvent(event.id, event.created_at, event.level, event.type, event.message, data)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
