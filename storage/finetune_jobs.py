"""Fine-tuning jobs, their events and the notice outbox (the only SQL of the fine-tuning feature).

The poller's exactly-once promise rests on :meth:`FineTuneJobRepository.apply_update`: a job's new
state, its newly seen events and the notices they cause are written in ONE transaction, and
notices are unique per (job, kind, dedupe key), so a poll repeated after a crash adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from storage.database import Database

# Statuses are stored as OpenAI reports them ("paused", and any it adds later); only these end a
# job, so only these stop the polling.
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    plan_id: str
    base_model: str
    training_file_id: str
    training_filename: str
    validation_file_id: str | None
    requested_epochs: str
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int | None
    guild_id: str
    channel_id: str
    requested_by: str
    created_at: str
    status: str
    estimated_tokens: int
    estimated_cost_usd: float
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error_message: str | None = None
    openai_created_unix: int | None = None
    finished_unix: int | None = None
    cancel_requested_by: str | None = None
    cancel_requested_at: str | None = None
    last_event_id: str | None = None
    last_event_unix: int | None = None
    last_progress_at: str | None = None
    updated_at: str = ""
    # Set while kobo cannot poll the job (OpenAI rejected the key); cleared by the next poll.
    not_followed_reason: str | None = None
    not_followed_since: str | None = None
    backend: str = "openai"  # "openai" or "local" (kobo's own trainer)
    estimated_seconds: float | None = None  # local jobs: the preview's time estimate

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True)
class JobEvent:
    event_id: str
    created_unix: int
    level: str
    type: str | None
    message: str
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class JobUpdate:
    """What one poll (or a cancel) learned about a job. None leaves a column as it is."""

    job_id: str
    status: str
    updated_at: str
    hyperparameters: dict[str, Any] | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error_message: str | None = None
    openai_created_unix: int | None = None
    finished_unix: int | None = None
    last_event_id: str | None = None
    last_event_unix: int | None = None
    last_progress_at: str | None = None


@dataclass(frozen=True)
class NewNotice:
    kind: str
    dedupe_key: str
    nonce: str
    payload: dict[str, Any]
    image_png: bytes | None = None


@dataclass(frozen=True)
class StoredNotice:
    id: int
    job_id: str
    kind: str
    dedupe_key: str
    nonce: str
    payload: dict[str, Any]
    image_png: bytes | None
    created_at: str
    state: str
    attempts: int
    last_error: str | None
    finished_at: str | None = field(default=None)


_JOB_COLUMNS = (
    "job_id, plan_id, base_model, training_file_id, training_filename, validation_file_id,"
    " requested_epochs, hyperparameters, suffix, seed, guild_id, channel_id, requested_by,"
    " created_at, status, estimated_tokens, estimated_cost_usd, fine_tuned_model, trained_tokens,"
    " error_message, openai_created_unix, finished_unix, cancel_requested_by, cancel_requested_at,"
    " last_event_id, last_event_unix, last_progress_at, updated_at, not_followed_reason,"
    " not_followed_since, backend, estimated_seconds"
)
_NOT_FINISHED = f"status NOT IN ({', '.join('?' * len(FINISHED_STATUSES))})"


class FineTuneJobRepository:
    def __init__(self, db: Database):
        self._db = db

    # --- jobs -------------------------------------------------------------------------------

    async def insert_job(self, job: JobRecord) -> None:
        values = _job_values(job)
        placeholders = ", ".join("?" * len(values))
        async with self._db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO finetune_jobs ({_JOB_COLUMNS}) VALUES ({placeholders})", values
            )

    async def get_job(self, job_id: str) -> JobRecord | None:
        row = await self._db.fetchone(
            f"SELECT {_JOB_COLUMNS} FROM finetune_jobs WHERE job_id = ?", (job_id,)
        )
        return _job_from_row(row) if row else None

    async def get_job_by_plan(self, plan_id: str) -> JobRecord | None:
        row = await self._db.fetchone(
            f"SELECT {_JOB_COLUMNS} FROM finetune_jobs WHERE plan_id = ?", (plan_id,)
        )
        return _job_from_row(row) if row else None

    async def list_jobs(
        self,
        statuses: Sequence[str] | None = None,
        *,
        unfinished: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> list[JobRecord]:
        """Newest first (by when kobo started them); ``statuses`` or ``unfinished`` filter."""
        where, params = _job_filter(statuses, unfinished)
        rows = await self._db.fetchall(
            f"SELECT {_JOB_COLUMNS} FROM finetune_jobs{where}"
            " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_job_from_row(row) for row in rows]

    async def count_jobs(
        self, statuses: Sequence[str] | None = None, *, unfinished: bool = False
    ) -> int:
        """How many jobs :meth:`list_jobs` lists with the same filter, on all its pages."""
        where, params = _job_filter(statuses, unfinished)
        row = await self._db.fetchone(f"SELECT COUNT(*) AS n FROM finetune_jobs{where}", params)
        return row["n"]

    async def unfinished_jobs(self) -> list[JobRecord]:
        rows = await self._db.fetchall(
            f"SELECT {_JOB_COLUMNS} FROM finetune_jobs WHERE {_NOT_FINISHED}"
            " ORDER BY created_at, rowid",
            FINISHED_STATUSES,
        )
        return [_job_from_row(row) for row in rows]

    async def has_unfinished_jobs(self) -> bool:
        row = await self._db.fetchone(
            f"SELECT EXISTS (SELECT 1 FROM finetune_jobs WHERE {_NOT_FINISHED}) AS found",
            FINISHED_STATUSES,
        )
        return bool(row["found"])

    async def succeeded_models(self) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT fine_tuned_model, MAX(finished_unix) AS latest FROM finetune_jobs"
            " WHERE status = 'succeeded' AND fine_tuned_model IS NOT NULL"
            " GROUP BY fine_tuned_model ORDER BY latest DESC, fine_tuned_model"
        )
        return [row["fine_tuned_model"] for row in rows]

    async def set_cancel_request(self, job_id: str, by: str | None, at: str | None) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_jobs SET cancel_requested_by = ?, cancel_requested_at = ?"
                " WHERE job_id = ?",
                (by, at, job_id),
            )

    async def apply_update(
        self, update: JobUpdate, events: Sequence[JobEvent], notices: Sequence[NewNotice]
    ) -> int:
        """Store a poll's outcome atomically; returns how many notices were new."""
        created = 0
        async with self._db.transaction() as conn:
            # A finished job never goes back to an unfinished status (a stale poll racing a cancel).
            await conn.execute(
                "UPDATE finetune_jobs SET status = ?,"
                " hyperparameters = COALESCE(?, hyperparameters),"
                " fine_tuned_model = COALESCE(?, fine_tuned_model),"
                " trained_tokens = COALESCE(?, trained_tokens),"
                " error_message = COALESCE(?, error_message),"
                " openai_created_unix = COALESCE(?, openai_created_unix),"
                " finished_unix = COALESCE(?, finished_unix),"
                " last_event_id = COALESCE(?, last_event_id),"
                " last_event_unix = COALESCE(?, last_event_unix),"
                " last_progress_at = COALESCE(?, last_progress_at),"
                # OpenAI answered about the job: it is followed (again).
                " not_followed_reason = NULL, not_followed_since = NULL,"
                " updated_at = ?"
                f" WHERE job_id = ? AND ({_NOT_FINISHED} OR status = ?)",
                (
                    update.status,
                    json.dumps(update.hyperparameters) if update.hyperparameters else None,
                    update.fine_tuned_model,
                    update.trained_tokens,
                    update.error_message,
                    update.openai_created_unix,
                    update.finished_unix,
                    update.last_event_id,
                    update.last_event_unix,
                    update.last_progress_at,
                    update.updated_at,
                    update.job_id,
                    *FINISHED_STATUSES,
                    update.status,
                ),
            )
            await conn.executemany(
                "INSERT INTO finetune_job_events"
                " (job_id, event_id, created_unix, level, type, message, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, event_id) DO NOTHING",
                [
                    (
                        update.job_id,
                        e.event_id,
                        e.created_unix,
                        e.level,
                        e.type,
                        e.message,
                        json.dumps(e.data) if e.data is not None else None,
                    )
                    for e in events
                ],
            )
            for notice in notices:
                created += await _insert_notice(conn, update.job_id, notice, update.updated_at)
        return created

    async def mark_not_followed(
        self, notices: Mapping[str, NewNotice], reason: str, at: str
    ) -> int:
        """Mark the given unfinished jobs (job id -> the notice that tells their channel) as not
        followed. A job already marked keeps its mark and gets no second notice; returns how many
        notices were new."""
        created = 0
        async with self._db.transaction() as conn:
            for job_id, notice in notices.items():
                cursor = await conn.execute(
                    "UPDATE finetune_jobs SET not_followed_reason = ?, not_followed_since = ?"
                    f" WHERE job_id = ? AND not_followed_reason IS NULL AND {_NOT_FINISHED}",
                    (reason, at, job_id, *FINISHED_STATUSES),
                )
                if cursor.rowcount:
                    created += await _insert_notice(conn, job_id, notice, at)
        return created

    # --- events -----------------------------------------------------------------------------

    async def recent_events(self, job_id: str, limit: int = 10) -> list[JobEvent]:
        """Newest first."""
        rows = await self._db.fetchall(
            "SELECT event_id, created_unix, level, type, message, data FROM finetune_job_events"
            " WHERE job_id = ? ORDER BY created_unix DESC, rowid DESC LIMIT ?",
            (job_id, limit),
        )
        return [
            JobEvent(
                row["event_id"],
                row["created_unix"],
                row["level"],
                row["type"],
                row["message"],
                json.loads(row["data"]) if row["data"] is not None else None,
            )
            for row in rows
        ]

    # --- notices ----------------------------------------------------------------------------

    async def pending_notices(self, limit: int = 100) -> list[StoredNotice]:
        """Oldest first, so a job's notices go out in the order they happened."""
        rows = await self._db.fetchall(
            "SELECT * FROM finetune_notices WHERE state = 'pending' ORDER BY id LIMIT ?", (limit,)
        )
        return [_notice_from_row(row) for row in rows]

    async def notices_for_job(self, job_id: str) -> list[StoredNotice]:
        rows = await self._db.fetchall(
            "SELECT * FROM finetune_notices WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [_notice_from_row(row) for row in rows]

    async def mark_delivered(self, notice_id: int, at: str) -> None:
        await self._finish_notice(notice_id, "delivered", None, at)

    async def mark_dropped(self, notice_id: int, reason: str, at: str) -> None:
        await self._finish_notice(notice_id, "dropped", reason, at)

    async def record_failed_attempt(self, notice_id: int, reason: str) -> int:
        """Count a retry-later answer; returns the attempts made so far."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_notices SET attempts = attempts + 1, last_error = ?"
                " WHERE id = ? AND state = 'pending'",
                (reason, notice_id),
            )
            cursor = await conn.execute(
                "SELECT attempts FROM finetune_notices WHERE id = ?", (notice_id,)
            )
            row = await cursor.fetchone()
        return row["attempts"] if row else 0

    async def _finish_notice(self, notice_id: int, state: str, reason: str | None, at: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_notices SET state = ?, attempts = attempts + 1,"
                " last_error = COALESCE(?, last_error), finished_at = ?"
                " WHERE id = ? AND state = 'pending'",
                (state, reason, at, notice_id),
            )


def _job_filter(statuses: Sequence[str] | None, unfinished: bool) -> tuple[str, list[str]]:
    """The WHERE clause (or "") and its parameters for listing or counting jobs."""
    if statuses is not None:
        return f" WHERE status IN ({', '.join('?' * len(statuses))})", list(statuses)
    if unfinished:
        return f" WHERE {_NOT_FINISHED}", list(FINISHED_STATUSES)
    return "", []


async def _insert_notice(
    conn: aiosqlite.Connection, job_id: str, notice: NewNotice, created_at: str
) -> int:
    """Queue a notice in the caller's transaction; returns 1, or 0 when it was queued before."""
    cursor = await conn.execute(
        # Only a repeat of the same notice is skipped; any other violation (a bad nonce) raises
        # and rolls the whole transaction back. OR IGNORE would hide it.
        "INSERT INTO finetune_notices"
        " (job_id, kind, dedupe_key, nonce, payload, image_png, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (job_id, kind, dedupe_key) DO NOTHING",
        (
            job_id,
            notice.kind,
            notice.dedupe_key,
            notice.nonce,
            json.dumps(notice.payload),
            notice.image_png,
            created_at,
        ),
    )
    return cursor.rowcount


def _job_values(job: JobRecord) -> tuple[Any, ...]:
    return (
        job.job_id,
        job.plan_id,
        job.base_model,
        job.training_file_id,
        job.training_filename,
        job.validation_file_id,
        job.requested_epochs,
        json.dumps(job.hyperparameters),
        job.suffix,
        job.seed,
        job.guild_id,
        job.channel_id,
        job.requested_by,
        job.created_at,
        job.status,
        job.estimated_tokens,
        job.estimated_cost_usd,
        job.fine_tuned_model,
        job.trained_tokens,
        job.error_message,
        job.openai_created_unix,
        job.finished_unix,
        job.cancel_requested_by,
        job.cancel_requested_at,
        job.last_event_id,
        job.last_event_unix,
        job.last_progress_at,
        job.updated_at,
        job.not_followed_reason,
        job.not_followed_since,
        job.backend,
        job.estimated_seconds,
    )


def _job_from_row(row: Any) -> JobRecord:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 (aiosqlite.Row has no iter of keys)
    values["hyperparameters"] = json.loads(values["hyperparameters"])
    return JobRecord(**values)


def _notice_from_row(row: Any) -> StoredNotice:
    return StoredNotice(
        id=row["id"],
        job_id=row["job_id"],
        kind=row["kind"],
        dedupe_key=row["dedupe_key"],
        nonce=row["nonce"],
        payload=json.loads(row["payload"]),
        image_png=row["image_png"],
        created_at=row["created_at"],
        state=row["state"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        finished_at=row["finished_at"],
    )
