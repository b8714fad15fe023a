"""The local trainer's tables: a job's changes are all-or-nothing, guarded by its status, and a
progress batch read twice records nothing twice."""

from __future__ import annotations

import pytest

from storage.database import Database
from storage.trainer import (
    JobChanges,
    NewEvent,
    TrainerCheckpoint,
    TrainerFile,
    TrainerJob,
    TrainerRepository,
)


@pytest.fixture
def repo(db: Database) -> TrainerRepository:
    return TrainerRepository(db)


def job(job_id: str, **changes: object) -> TrainerJob:
    values: dict[str, object] = dict(
        id=job_id,
        base_model="tiny",
        model_name=f"ft:tiny:kobo::{job_id[6:14]}",
        training_file="file-1",
        validation_file=None,
        suffix=None,
        seed=42,
        method="lora",
        hyperparameters={"n_epochs": "auto", "batch_size": "auto"},
        merge=False,
        metadata={"kobo": "yes"},
        status="validating_files",
        created_unix=1_700_000_000,
    )
    values.update(changes)
    return TrainerJob(**values)  # type: ignore[arg-type]


def event(n: int, key: str | None = None) -> NewEvent:
    return NewEvent(f"ftevent-{n:024x}", key or f"k{n}", 1_700_000_000 + n, f"event {n}")


async def test_a_job_reads_back_as_written(repo):
    written = job("ftjob-" + "a" * 24, validation_file="file-2", merge=True)
    await repo.add_job(written, [event(1)])
    assert await repo.get_job(written.id) == written
    assert await repo.get_job("ftjob-" + "b" * 24) is None


async def test_events_page_newest_first_and_after_pages_to_older_ones(repo):
    job_id = "ftjob-" + "a" * 24
    await repo.add_job(job(job_id), [event(n) for n in range(1, 6)])
    first = await repo.list_events(job_id, after=None, limit=2)
    assert [e.message for e in first.items] == ["event 5", "event 4"] and first.has_more
    second = await repo.list_events(job_id, after=first.items[-1].id, limit=2)
    assert [e.message for e in second.items] == ["event 3", "event 2"] and second.has_more
    last = await repo.list_events(job_id, after=second.items[-1].id, limit=2)
    assert [e.message for e in last.items] == ["event 1"] and not last.has_more
    unknown = await repo.list_events(job_id, after="ftevent-nope", limit=2)
    assert unknown.items == [] and not unknown.has_more


async def test_a_batch_applied_twice_records_each_event_and_checkpoint_once(repo):
    job_id = "ftjob-" + "a" * 24
    await repo.add_job(job(job_id, status="running"))
    checkpoint = TrainerCheckpoint(
        "ftckpt-" + "1" * 24, job_id, 10, {"train_loss": 1.5}, "ft:x:ckpt-step-10", 1
    )
    for attempt in range(2):
        # A re-read gets fresh ids for the same lines: the dedupe key and the step decide.
        applied = await repo.change_job(
            job_id,
            JobChanges(progress_offset=100),
            events=[
                NewEvent(f"ftevent-{attempt}{'0' * 23}", "step:10", 5, "Step 10/20"),
            ],
            checkpoints=[checkpoint if attempt == 0 else _renamed(checkpoint)],
        )
        assert applied
    events = await repo.list_events(job_id, after=None, limit=10)
    assert [e.message for e in events.items] == ["Step 10/20"]
    checkpoints = await repo.list_checkpoints(job_id, after=None, limit=10)
    assert [c.id for c in checkpoints.items] == [checkpoint.id]
    assert await repo.newest_checkpoint_step(job_id) == 10


async def test_a_change_for_another_status_writes_nothing(repo):
    job_id = "ftjob-" + "a" * 24
    await repo.add_job(job(job_id, status="running", pid=1234))
    assert await repo.change_job(
        job_id, JobChanges(status="cancelled", finished_unix=9, clear_pid=True)
    )
    # A late progress batch for the cancelled job is refused whole: no offset, no event.
    late = await repo.change_job(
        job_id, JobChanges(progress_offset=50), expected=("running",), events=[event(1)]
    )
    assert not late
    stored = await repo.get_job(job_id)
    assert (stored.status, stored.pid, stored.progress_offset) == ("cancelled", None, 0)
    assert (await repo.list_events(job_id, after=None, limit=5)).items == []


async def test_success_registers_its_result_file_in_the_same_transaction(repo):
    job_id = "ftjob-" + "a" * 24
    await repo.add_job(job(job_id, status="running"))
    result = TrainerFile(
        "file-" + "c" * 24, "step_metrics.csv", "fine-tune-results", 3, "ab", "p", 1
    )
    assert await repo.change_job(
        job_id,
        JobChanges(status="succeeded", result_file=result.id, chars_per_second=120.0),
        files=[result],
    )
    assert await repo.get_file(result.id) == result
    assert [t.chars_per_second for t in await repo.recent_throughputs("tiny", 5)] == [120.0]
    assert [m.name for m in await repo.finished_models()] == [f"ft:tiny:kobo::{'a' * 8}"]


def _renamed(checkpoint: TrainerCheckpoint) -> TrainerCheckpoint:
    return TrainerCheckpoint("ftckpt-" + "2" * 24, *list(vars(checkpoint).values())[1:])
