"""Counting jobs with the filters /jobs pages by."""

from __future__ import annotations

from storage.database import Database
from storage.finetune_jobs import FineTuneJobRepository
from tests.storage.test_finetune_jobs import job


async def test_count_jobs_counts_what_list_jobs_lists(db: Database):
    repo = FineTuneJobRepository(db)
    statuses = ["running", "succeeded", "queued", "succeeded", "paused", "failed"]
    for n, status in enumerate(statuses):
        await repo.insert_job(job(f"ftjob-{n}", f"2025-06-0{n + 1}T09:00:00.000Z", status=status))
    assert await repo.count_jobs() == 6
    assert await repo.count_jobs(["succeeded"]) == 2
    assert await repo.count_jobs(["cancelled"]) == 0
    assert await repo.count_jobs(unfinished=True) == 3  # running, queued, paused
    for filters in ({}, {"statuses": ["succeeded"]}, {"unfinished": True}):
        listed = await repo.list_jobs(**filters, limit=100)
        assert await repo.count_jobs(**filters) == len(listed)
