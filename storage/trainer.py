"""The local trainer's files, jobs, events and checkpoints (the only SQL of trainer/).

Every change of a job goes through :meth:`TrainerRepository.change_job`: the job's new columns,
its new events, checkpoints and files are written in ONE transaction, and only while the job is
in one of the statuses the caller expects, so a late progress batch cannot undo a cancel.
Events and checkpoints are unique per (job, dedupe key) and (job, step): reading the progress
file again after a restart records nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import aiosqlite

from storage.database import Database
from storage.finetune_jobs import FINISHED_STATUSES  # OpenAI's, which the trainer's jobs share

UNFINISHED_STATUSES = ("validating_files", "queued", "running")


@dataclass(frozen=True)
class TrainerFile:
    id: str
    filename: str
    purpose: str
    bytes: int
    sha256: str
    path: str  # relative to DATA_DIR
    created_unix: int


@dataclass(frozen=True)
class TrainerJob:
    id: str
    base_model: str
    model_name: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    method: str  # "lora" or "full"
    hyperparameters: dict[str, Any]
    merge: bool
    metadata: dict[str, Any] | None
    status: str
    created_unix: int
    error_code: str | None = None
    error_message: str | None = None
    error_param: str | None = None
    trained_tokens: int | None = None
    result_file: str | None = None
    model_dir: str | None = None
    progress_offset: int = 0
    total_steps: int | None = None
    restarts: int = 0
    device: str | None = None
    dtype: str | None = None
    chars_per_second: float | None = None
    peak_memory_bytes: int | None = None
    pid: int | None = None
    started_unix: int | None = None
    finished_unix: int | None = None
    estimated_finish_unix: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True)
class JobChanges:
    """New values for some of a job's columns; a field left None keeps the column as it is.

    ``clear_pid`` and ``clear_estimate`` set those columns back to NULL (a field cannot say it).
    """

    status: str | None = None
    hyperparameters: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_param: str | None = None
    trained_tokens: int | None = None
    result_file: str | None = None
    model_dir: str | None = None
    progress_offset: int | None = None
    total_steps: int | None = None
    restarts: int | None = None
    device: str | None = None
    dtype: str | None = None
    chars_per_second: float | None = None
    peak_memory_bytes: int | None = None
    pid: int | None = None
    started_unix: int | None = None
    finished_unix: int | None = None
    estimated_finish_unix: int | None = None
    clear_pid: bool = False
    clear_estimate: bool = False


@dataclass(frozen=True)
class NewEvent:
    id: str
    dedupe_key: str
    created_unix: int
    message: str
    level: str = "info"
    type: str = "message"
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class TrainerEvent:
    id: str
    job_id: str
    created_unix: int
    level: str
    type: str
    message: str
    data: dict[str, Any] | None


@dataclass(frozen=True)
class TrainerCheckpoint:
    id: str
    job_id: str
    step: int
    metrics: dict[str, Any]
    model: str
    created_unix: int


@dataclass(frozen=True)
class Page:
    """Items newest first, and whether older ones are left (OpenAI's ``has_more``)."""

    items: list[Any]
    has_more: bool


@dataclass(frozen=True)
class Throughput:
    """What a succeeded job of a base model measured on this trainer."""

    chars_per_second: float
    peak_memory_bytes: int | None
    device: str | None


@dataclass(frozen=True)
class FinishedModel:
    name: str
    base_model: str
    finished_unix: int
    job_id: str


@dataclass(frozen=True)
class ModelDeletion:
    """``model`` None: no such fine-tune; ``assigned_to`` robots: refused, nothing changed."""

    model: FinishedModel | None
    assigned_to: tuple[int, ...]


_JSON_COLUMNS = ("hyperparameters", "metadata")
_MODEL_COLUMNS = "id, model_name, base_model, finished_unix"
_MODEL_KEPT = "status = 'succeeded' AND model_deleted_unix IS NULL"
_JOB_COLUMNS = tuple(f.name for f in fields(TrainerJob))
_CHANGE_COLUMNS = tuple(f.name for f in fields(JobChanges) if not f.name.startswith("clear_"))


class TrainerRepository:
    def __init__(self, db: Database):
        self._db = db

    # --- files ------------------------------------------------------------------------------

    async def add_file(self, file: TrainerFile) -> None:
        async with self._db.transaction() as conn:
            await _insert_file(conn, file)

    async def get_file(self, file_id: str) -> TrainerFile | None:
        row = await self._db.fetchone("SELECT * FROM trainer_files WHERE id = ?", (file_id,))
        return _file_from_row(row) if row else None

    async def delete_file(self, file_id: str) -> TrainerFile | None:
        """Forget the file; returns what it was (the caller removes its content), or None."""
        async with self._db.transaction() as conn:
            async with conn.execute("SELECT * FROM trainer_files WHERE id = ?", (file_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            await conn.execute("DELETE FROM trainer_files WHERE id = ?", (file_id,))
        return _file_from_row(row)

    async def list_files(
        self, *, purpose: str | None, after: str | None, limit: int, ascending: bool
    ) -> Page:
        """By ``created_at`` (then upload order), newest first unless ``ascending``; ``after`` a
        file id: the files that come after it in that order."""
        conditions, values = [], []
        if purpose is not None:
            conditions.append("purpose = ?")
            values.append(purpose)
        if after is not None:
            # An unknown id compares as NULL: an empty page, as OpenAI answers.
            conditions.append(
                f"(created_unix, rowid) {'>' if ascending else '<'}"
                " (SELECT created_unix, rowid FROM trainer_files WHERE id = ?)"
            )
            values.append(after)
        clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        direction = "ASC" if ascending else "DESC"
        rows = await self._db.fetchall(
            f"SELECT * FROM trainer_files{clause}"
            f" ORDER BY created_unix {direction}, rowid {direction} LIMIT ?",
            (*values, limit + 1),
        )
        return Page([_file_from_row(row) for row in rows[:limit]], len(rows) > limit)

    async def file_paths(self) -> set[str]:
        rows = await self._db.fetchall("SELECT path FROM trainer_files")
        return {row["path"] for row in rows}

    # --- jobs -------------------------------------------------------------------------------

    async def add_job(self, job: TrainerJob, events: Sequence[NewEvent] = ()) -> None:
        values = _job_values(job)
        async with self._db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO trainer_jobs ({', '.join(values)})"
                f" VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
            await _insert_events(conn, job.id, events)

    async def get_job(self, job_id: str) -> TrainerJob | None:
        row = await self._db.fetchone(
            f"SELECT {', '.join(_JOB_COLUMNS)} FROM trainer_jobs WHERE id = ?", (job_id,)
        )
        return _job_from_row(row) if row else None

    async def list_jobs(self, *, after: str | None, limit: int) -> Page:
        """Newest first; ``after`` a job id: the jobs created before it."""
        return await self._page(
            f"SELECT {', '.join(_JOB_COLUMNS)} FROM trainer_jobs",
            [],
            (),
            after_table="trainer_jobs",
            after=after,
            limit=limit,
            convert=_job_from_row,
        )

    async def jobs_with_status(self, statuses: Sequence[str]) -> list[TrainerJob]:
        """Oldest first: the order they wait in."""
        rows = await self._db.fetchall(
            f"SELECT {', '.join(_JOB_COLUMNS)} FROM trainer_jobs"
            f" WHERE status IN ({', '.join('?' * len(statuses))}) ORDER BY seq",
            tuple(statuses),
        )
        return [_job_from_row(row) for row in rows]

    async def change_job(
        self,
        job_id: str,
        changes: JobChanges,
        *,
        expected: Sequence[str] = UNFINISHED_STATUSES,
        events: Sequence[NewEvent] = (),
        checkpoints: Sequence[TrainerCheckpoint] = (),
        files: Sequence[TrainerFile] = (),
    ) -> bool:
        """Apply ``changes`` and add the rest in one transaction, only while the job's status is
        one of ``expected``. Returns False (and writes nothing) when it is not."""
        values = {
            name: value
            for name, value in asdict(changes).items()
            if name in _CHANGE_COLUMNS and value is not None
        }
        for name in _JSON_COLUMNS:
            if name in values:
                values[name] = json.dumps(values[name])
        assignments = [f"{name} = ?" for name in values]
        if changes.clear_pid:
            assignments.append("pid = NULL")
        if changes.clear_estimate:
            assignments.append("estimated_finish_unix = NULL")
        async with self._db.transaction() as conn:
            if assignments:
                cursor = await conn.execute(
                    f"UPDATE trainer_jobs SET {', '.join(assignments)}"
                    f" WHERE id = ? AND status IN ({', '.join('?' * len(expected))})",
                    (*values.values(), job_id, *expected),
                )
                changed = cursor.rowcount > 0
            else:
                async with conn.execute(
                    "SELECT 1 FROM trainer_jobs"
                    f" WHERE id = ? AND status IN ({', '.join('?' * len(expected))})",
                    (job_id, *expected),
                ) as cur:
                    changed = await cur.fetchone() is not None
            if not changed:
                return False
            for file in files:
                await _insert_file(conn, file)
            await _insert_events(conn, job_id, events)
            await conn.executemany(
                "INSERT INTO trainer_checkpoints (id, job_id, step, metrics, model, created_unix)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, step) DO NOTHING",
                [
                    (c.id, job_id, c.step, json.dumps(c.metrics), c.model, c.created_unix)
                    for c in checkpoints
                ],
            )
        return True

    async def recent_throughputs(self, base_model: str, limit: int) -> list[Throughput]:
        """What the last ``limit`` succeeded jobs of ``base_model`` measured, newest first."""
        rows = await self._db.fetchall(
            "SELECT chars_per_second, peak_memory_bytes, device FROM trainer_jobs"
            " WHERE base_model = ? AND status = 'succeeded' AND chars_per_second IS NOT NULL"
            " ORDER BY finished_unix DESC, seq DESC LIMIT ?",
            (base_model, limit),
        )
        return [
            Throughput(row["chars_per_second"], row["peak_memory_bytes"], row["device"])
            for row in rows
        ]

    async def finished_models(self) -> list[FinishedModel]:
        """The fine-tunes this trainer made and still has, newest first."""
        rows = await self._db.fetchall(
            f"SELECT {_MODEL_COLUMNS} FROM trainer_jobs WHERE {_MODEL_KEPT}"
            " ORDER BY finished_unix DESC, seq DESC"
        )
        return [_model_from_row(row) for row in rows]

    async def finished_model(self, name: str) -> FinishedModel | None:
        row = await self._db.fetchone(
            f"SELECT {_MODEL_COLUMNS} FROM trainer_jobs WHERE {_MODEL_KEPT} AND model_name = ?",
            (name,),
        )
        return _model_from_row(row) if row else None

    async def delete_model(self, name: str, now_unix: int) -> ModelDeletion:
        """Mark the fine-tune ``name`` deleted unless a robot is assigned it (kobo's
        robot_assignments, in the same database when the trainer runs inside kobo): checked
        and marked in one transaction, so no assignment slips in between."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                f"SELECT {_MODEL_COLUMNS} FROM trainer_jobs WHERE {_MODEL_KEPT} AND model_name = ?",
                (name,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return ModelDeletion(None, ())
            async with conn.execute(
                "SELECT stack_id FROM robot_assignments WHERE model = ? ORDER BY stack_id", (name,)
            ) as cur:
                robots = tuple(r["stack_id"] for r in await cur.fetchall())
            if not robots:
                await conn.execute(
                    "UPDATE trainer_jobs SET model_deleted_unix = ? WHERE id = ?",
                    (now_unix, row["id"]),
                )
        return ModelDeletion(_model_from_row(row), robots)

    # --- events and checkpoints -------------------------------------------------------------

    async def list_events(self, job_id: str, *, after: str | None, limit: int) -> Page:
        """Newest first; ``after`` an event id: the events before it."""
        return await self._page(
            "SELECT id, job_id, created_unix, level, type, message, data FROM trainer_events",
            ["job_id = ?"],
            (job_id,),
            after_table="trainer_events",
            after=after,
            limit=limit,
            convert=_event_from_row,
        )

    async def list_checkpoints(self, job_id: str, *, after: str | None, limit: int) -> Page:
        """Newest (highest step) first; ``after`` a checkpoint id: the ones before it."""
        return await self._page(
            "SELECT id, job_id, step, metrics, model, created_unix FROM trainer_checkpoints",
            ["job_id = ?"],
            (job_id,),
            after_table="trainer_checkpoints",
            after=after,
            limit=limit,
            convert=_checkpoint_from_row,
        )

    async def newest_checkpoint_step(self, job_id: str) -> int | None:
        row = await self._db.fetchone(
            "SELECT MAX(step) AS step FROM trainer_checkpoints WHERE job_id = ?", (job_id,)
        )
        return row["step"]

    async def _page(
        self,
        select: str,
        conditions: list[str],
        params: tuple[Any, ...],
        *,
        after_table: str,
        after: str | None,
        limit: int,
        convert: Callable[[Any], Any],
    ) -> Page:
        values = list(params)
        if after is not None:
            # An unknown id pages past everything, as OpenAI answers an empty page.
            conditions = [
                *conditions,
                f"seq < COALESCE((SELECT seq FROM {after_table} WHERE id = ?), 0)",
            ]
            values.append(after)
        clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await self._db.fetchall(
            f"{select}{clause} ORDER BY seq DESC LIMIT ?", (*values, limit + 1)
        )
        return Page([convert(row) for row in rows[:limit]], len(rows) > limit)


async def _insert_file(conn: aiosqlite.Connection, file: TrainerFile) -> None:
    await conn.execute(
        "INSERT INTO trainer_files (id, filename, purpose, bytes, sha256, path, created_unix)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        tuple(asdict(file).values()),
    )


async def _insert_events(
    conn: aiosqlite.Connection, job_id: str, events: Sequence[NewEvent]
) -> None:
    # Only a repeat (same job and dedupe key) is skipped; any other violation raises.
    await conn.executemany(
        "INSERT INTO trainer_events"
        " (id, job_id, dedupe_key, created_unix, level, type, message, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, dedupe_key) DO NOTHING",
        [
            (
                e.id,
                job_id,
                e.dedupe_key,
                e.created_unix,
                e.level,
                e.type,
                e.message,
                json.dumps(e.data) if e.data is not None else None,
            )
            for e in events
        ],
    )


def _job_values(job: TrainerJob) -> dict[str, Any]:
    values = asdict(job)
    for name in _JSON_COLUMNS:
        values[name] = json.dumps(values[name]) if values[name] is not None else None
    values["merge"] = int(job.merge)
    return values


def _job_from_row(row: Any) -> TrainerJob:
    values = {name: row[name] for name in _JOB_COLUMNS}
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name]) if values[name] is not None else None
    values["merge"] = bool(values["merge"])
    return TrainerJob(**values)


def _file_from_row(row: Any) -> TrainerFile:
    return TrainerFile(**{f.name: row[f.name] for f in fields(TrainerFile)})


def _model_from_row(row: Any) -> FinishedModel:
    return FinishedModel(row["model_name"], row["base_model"], row["finished_unix"], row["id"])


def _event_from_row(row: Any) -> TrainerEvent:
    return TrainerEvent(
        id=row["id"],
        job_id=row["job_id"],
        created_unix=row["created_unix"],
        level=row["level"],
        type=row["type"],
        message=row["message"],
        data=json.loads(row["data"]) if row["data"] is not None else None,
    )


def _checkpoint_from_row(row: Any) -> TrainerCheckpoint:
    return TrainerCheckpoint(
        id=row["id"],
        job_id=row["job_id"],
        step=row["step"],
        metrics=json.loads(row["metrics"]),
        model=row["model"],
        created_unix=row["created_unix"],
    )
