from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from storage.database import Database
from storage.finetune_jobs import FineTuneJobRepository, JobEvent, JobRecord, JobUpdate, NewNotice


@pytest.fixture
def repo(db: Database) -> FineTuneJobRepository:
    return FineTuneJobRepository(db)


def job(job_id: str, created_at: str = "2025-06-01T09:00:00.000Z", **changes) -> JobRecord:
    values = dict(
        job_id=job_id,
        plan_id=f"plan-{job_id}",
        base_model="gpt-4o-mini-2024-07-18",
        training_file_id="file-1",
        training_filename="train.jsonl",
        validation_file_id=None,
        requested_epochs="auto",
        hyperparameters={"n_epochs": "auto"},
        suffix="kobo",
        seed=None,
        guild_id="1",
        channel_id="2",
        requested_by="3",
        created_at=created_at,
        status="validating_files",
        estimated_tokens=1000,
        estimated_cost_usd=0.003,
        updated_at=created_at,
    )
    values.update(changes)
    return JobRecord(**values)


def update(job_id: str, status: str, **changes) -> JobUpdate:
    return JobUpdate(job_id=job_id, status=status, updated_at="2025-06-01T10:00:00.000Z", **changes)


def notice(kind: str, key: str, nonce: str | None = None) -> NewNotice:
    return NewNotice(kind, key, nonce or f"n-{kind}-{key}", {"channel_id": "2"})


async def test_the_migration_creates_the_tables(db: Database):
    assert await db.schema_version() >= 3
    names = {
        row["name"]
        for row in await db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert {"finetune_jobs", "finetune_job_events", "finetune_notices"} <= names


async def test_jobs_round_trip_and_plans_are_unique(repo: FineTuneJobRepository):
    record = job("ftjob-a")
    await repo.insert_job(record)
    assert await repo.get_job("ftjob-a") == record
    assert await repo.get_job_by_plan("plan-ftjob-a") == record
    with pytest.raises(sqlite3.IntegrityError):
        await repo.insert_job(job("ftjob-b", plan_id="plan-ftjob-a"))
    assert await repo.get_job("ftjob-b") is None


async def test_an_update_with_its_events_and_notices_is_stored_once(repo: FineTuneJobRepository):
    await repo.insert_job(job("ftjob-a"))
    events = [JobEvent("ev-1", 100, "info", "message", "Fine-tuning job started")]
    notices = [notice("running", "running")]
    first = await repo.apply_update(
        update("ftjob-a", "running", last_event_id="ev-1", last_event_unix=100), events, notices
    )
    again = await repo.apply_update(update("ftjob-a", "running"), events, notices)

    assert (first, again) == (1, 0)
    assert [n.kind for n in await repo.notices_for_job("ftjob-a")] == ["running"]
    assert [e.event_id for e in await repo.recent_events("ftjob-a")] == ["ev-1"]
    stored = await repo.get_job("ftjob-a")
    assert (stored.status, stored.last_event_id) == ("running", "ev-1")  # cursor kept


async def test_a_failing_notice_rolls_back_the_whole_update(repo: FineTuneJobRepository):
    await repo.insert_job(job("ftjob-a"))
    too_long_nonce = notice("running", "running", nonce="x" * 26)
    with pytest.raises(sqlite3.IntegrityError):
        await repo.apply_update(
            update("ftjob-a", "running", last_event_id="ev-1", last_event_unix=1),
            [JobEvent("ev-1", 1, "info", "message", "started")],
            [too_long_nonce],
        )
    stored = await repo.get_job("ftjob-a")
    assert (stored.status, stored.last_event_id) == ("validating_files", None)
    assert await repo.recent_events("ftjob-a") == []


async def test_a_finished_job_never_goes_back(repo: FineTuneJobRepository):
    await repo.insert_job(job("ftjob-a"))
    await repo.apply_update(update("ftjob-a", "cancelled"), [], [])
    await repo.apply_update(update("ftjob-a", "running"), [], [notice("running", "running")])
    assert (await repo.get_job("ftjob-a")).status == "cancelled"
    assert not await repo.has_unfinished_jobs()


async def test_listing_is_newest_first_with_filters(repo: FineTuneJobRepository):
    for n, status in enumerate(["running", "succeeded", "queued"]):
        await repo.insert_job(job(f"ftjob-{n}", f"2025-06-0{n + 1}T09:00:00.000Z", status=status))
    assert [j.job_id for j in await repo.list_jobs()] == ["ftjob-2", "ftjob-1", "ftjob-0"]
    assert [j.job_id for j in await repo.unfinished_jobs()] == ["ftjob-0", "ftjob-2"]
    assert [j.job_id for j in await repo.list_jobs(["succeeded"])] == ["ftjob-1"]
    assert [j.job_id for j in await repo.list_jobs(limit=1, offset=2)] == ["ftjob-0"]


async def test_succeeded_models_newest_first_without_duplicates(repo: FineTuneJobRepository):
    for n, finished in enumerate([300, 100, 200]):
        await repo.insert_job(job(f"ftjob-{n}"))
        await repo.apply_update(
            update(
                f"ftjob-{n}",
                "succeeded",
                fine_tuned_model=f"ft:m:{n % 2}",
                finished_unix=finished,
            ),
            [],
            [],
        )
    await repo.insert_job(job("ftjob-f"))
    await repo.apply_update(update("ftjob-f", "failed", error_message="bad"), [], [])
    assert await repo.succeeded_models() == ["ft:m:0", "ft:m:1"]


async def test_notice_states(repo: FineTuneJobRepository):
    await repo.insert_job(job("ftjob-a"))
    await repo.apply_update(
        update("ftjob-a", "running"),
        [],
        [notice("running", "running"), notice("progress", "ev-9"), notice("failed", "failed")],
    )
    running, progress, failed = await repo.pending_notices()
    await repo.mark_delivered(running.id, "2025-06-01T10:01:00.000Z")
    assert await repo.record_failed_attempt(progress.id, "Discord is down") == 1
    await repo.mark_dropped(failed.id, "channel gone", "2025-06-01T10:02:00.000Z")

    assert [n.id for n in await repo.pending_notices()] == [progress.id]
    states = {
        n.kind: (n.state, n.attempts, n.last_error) for n in await repo.notices_for_job("ftjob-a")
    }
    assert states == {
        "running": ("delivered", 1, None),
        "progress": ("pending", 1, "Discord is down"),
        "failed": ("dropped", 1, "channel gone"),
    }
    await repo.mark_dropped(running.id, "late", "2025-06-01T10:03:00.000Z")  # already delivered
    assert (await repo.notices_for_job("ftjob-a"))[0].state == "delivered"


async def test_any_status_openai_reports_is_stored_and_only_finished_ones_end_a_job(
    repo: FineTuneJobRepository,
):
    await repo.insert_job(job("ftjob-a"))
    for status in ("paused", "some_status_openai_adds_later"):
        await repo.apply_update(update("ftjob-a", status), [], [])
        assert (await repo.get_job("ftjob-a")).status == status
        assert [j.job_id for j in await repo.unfinished_jobs()] == ["ftjob-a"]
        assert await repo.has_unfinished_jobs()
    assert [j.job_id for j in await repo.list_jobs(unfinished=True)] == ["ftjob-a"]
    await repo.apply_update(update("ftjob-a", "succeeded"), [], [])
    assert await repo.unfinished_jobs() == []
    assert await repo.list_jobs(unfinished=True) == []


async def test_a_job_is_marked_not_followed_once_until_a_poll_gets_through(
    repo: FineTuneJobRepository,
):
    await repo.insert_job(job("ftjob-a", status="running"))
    await repo.insert_job(job("ftjob-done", status="succeeded"))
    marks = {
        "ftjob-a": notice("key_rejected", "t1"),
        "ftjob-done": notice("key_rejected", "t1", nonce="n-done"),
    }
    assert await repo.mark_not_followed(marks, "key rejected", "t1") == 1
    again = {"ftjob-a": notice("key_rejected", "t2")}
    assert await repo.mark_not_followed(again, "key rejected", "t2") == 0
    marked = await repo.get_job("ftjob-a")
    assert (marked.not_followed_reason, marked.not_followed_since) == ("key rejected", "t1")
    assert (await repo.get_job("ftjob-done")).not_followed_reason is None  # finished: no mark
    assert [n.dedupe_key for n in await repo.notices_for_job("ftjob-a")] == ["t1"]

    await repo.apply_update(update("ftjob-a", "running"), [], [])  # a poll got through
    followed = await repo.get_job("ftjob-a")
    assert (followed.not_followed_reason, followed.not_followed_since) == (None, None)
    assert await repo.mark_not_followed(again, "key rejected", "t2") == 1  # rejected again


async def test_migrating_a_003_database_keeps_jobs_events_and_notices(
    tmp_path: Path, migrations: Path
):
    shipped = resources.files("storage.migrations")
    for entry in shipped.iterdir():
        if entry.name.endswith(".sql") and int(entry.name.split("_")[0]) <= 3:
            (migrations / entry.name).write_text(entry.read_text("utf-8"), "utf-8")
    path = tmp_path / "kobo.sqlite3"
    db = await Database.open(path)
    assert await db.schema_version() == 3
    async with db.transaction() as conn:
        # As kobo wrote them before 004, column by column.
        await conn.execute(
            "INSERT INTO finetune_jobs (job_id, plan_id, base_model, training_file_id,"
            " training_filename, requested_epochs, hyperparameters, guild_id, channel_id,"
            " requested_by, created_at, status, estimated_tokens, estimated_cost_usd,"
            " last_event_id, updated_at) VALUES ('ftjob-a', 'plan-a', 'gpt-4o-mini', 'file-1',"
            " 't.jsonl', 'auto', '{}', '1', '2', '3', '2025-06-01T09:00:00.000Z', 'running',"
            " 1000, 0.003, 'ev-2', '2025-06-01T09:05:00.000Z')"
        )
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # the bug 004 fixes
            await conn.execute("UPDATE finetune_jobs SET status = 'paused'")
        await conn.executemany(
            "INSERT INTO finetune_job_events (job_id, event_id, created_unix, level, type,"
            " message) VALUES ('ftjob-a', ?, 100, 'info', 'message', ?)",
            [("ev-1", "first"), ("ev-2", "second, same second")],
        )
        await conn.executemany(
            "INSERT INTO finetune_notices (job_id, kind, dedupe_key, nonce, payload, created_at,"
            " state) VALUES ('ftjob-a', ?, ?, ?, '{}', '2025-06-01T09:01:00.000Z', ?)",
            [("running", "running", "n-1", "delivered"), ("progress", "ev-2", "n-2", "pending")],
        )
        await conn.execute(
            "INSERT INTO assignment_history (stack_id, new_model, changed_by, changed_by_name,"
            " changed_at) VALUES (4, 'gpt-4o-mini', '3', 'alice', '2025-06-01T09:00:00Z')"
        )
    await db.close()

    later = [e for e in shipped.iterdir() if e.name.endswith(".sql") and e.name >= "004"]
    for entry in later:
        (migrations / entry.name).write_text(entry.read_text("utf-8"), "utf-8")
    db = await Database.open(path)
    try:
        assert await db.schema_version() == max(int(e.name.split("_")[0]) for e in later)
        repo = FineTuneJobRepository(db)
        kept = await repo.get_job("ftjob-a")
        # Jobs from before local training ran on OpenAI, and estimated a cost, not a time.
        assert (kept.backend, kept.estimated_seconds) == ("openai", None)
        assert (kept.status, kept.last_event_id, kept.not_followed_reason) == (
            "running",
            "ev-2",
            None,
        )
        # Same-second events keep their order; notices keep ids, states and their order.
        assert [e.event_id for e in await repo.recent_events("ftjob-a")] == ["ev-2", "ev-1"]
        notices = await repo.notices_for_job("ftjob-a")
        assert [(n.id, n.nonce, n.state) for n in notices] == [
            (1, "n-1", "delivered"),
            (2, "n-2", "pending"),
        ]

        await repo.apply_update(update("ftjob-a", "paused"), [], [notice("failed", "failed")])
        assert (await repo.get_job("ftjob-a")).status == "paused"
        assert [n.id for n in await repo.notices_for_job("ftjob-a")] == [1, 2, 3]
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO finetune_job_events (job_id, event_id, created_unix, level,"
                    " message) VALUES ('ftjob-nope', 'ev-9', 1, 'info', 'orphan')"
                )
        async with db.transaction() as conn:  # a job's events and notices go with it
            await conn.execute("DELETE FROM finetune_jobs WHERE job_id = 'ftjob-a'")
        assert await repo.recent_events("ftjob-a") == []
        assert await repo.notices_for_job("ftjob-a") == []
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            async with db.transaction() as conn:
                await conn.execute("DELETE FROM assignment_history")
    finally:
        await db.close()
