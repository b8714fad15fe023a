"""The fake speaks OpenAI's API the way the real SDK expects (checked through the SDK itself)."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai import FakeOpenAI


async def new_job(client: AsyncOpenAI, suffix: str | None = None) -> str:
    file = await client.files.create(
        file=("t.jsonl", b"{}\n", "application/jsonl"), purpose="fine-tune"
    )
    job = await client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=file.id, suffix=suffix
    )
    return job.id


async def test_jobs_list_pages_newest_first(client: AsyncOpenAI, fake: FakeOpenAI):
    ids = [await new_job(client) for _ in range(5)]
    first = await client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == ids[:2:-1] and first.has_more
    every = [j.id async for j in client.fine_tuning.jobs.list(limit=2)]
    assert every == ids[::-1]


async def test_events_after_pages_to_older_events(client: AsyncOpenAI, fake: FakeOpenAI):
    job_id = await new_job(client)
    fake.advance(job_id, "running")
    ids = [fake.add_metrics(job_id, step, 1.0 / step) for step in (1, 2, 3)]
    newest = await client.fine_tuning.jobs.list_events(job_id, limit=2)
    assert [e.id for e in newest.data] == [ids[2], ids[1]]
    assert newest.data[0].type == "metrics"
    assert newest.data[0].data == {
        "step": 3,
        "train_loss": 1.0 / 3,
        "total_steps": 100,
        "train_mean_token_accuracy": 0.5,
    }
    older = await client.fine_tuning.jobs.list_events(job_id, after=ids[1], limit=1)
    assert [e.id for e in older.data] == [ids[0]]


async def test_status_flow_result_file_and_checkpoints(client: AsyncOpenAI, fake: FakeOpenAI):
    job_id = await new_job(client, suffix="kids")
    fake.advance(job_id, "running")
    assert (await client.fine_tuning.jobs.retrieve(job_id)).hyperparameters.n_epochs == 3
    model = fake.succeed(job_id)
    job = await client.fine_tuning.jobs.retrieve(job_id)
    assert (job.status, job.fine_tuned_model) == ("succeeded", model)
    assert model.startswith("ft:gpt-4o-mini-2024-07-18:kobo-test:kids:")
    content = await client.files.content(job.result_files[0])
    assert content.content == fake.file_contents[job.result_files[0]]
    checkpoints = await client.fine_tuning.jobs.checkpoints.list(job_id)
    assert checkpoints.data[0].fine_tuned_model_checkpoint.startswith(model)
    # One per epoch (the last three), newest first, with the metrics at that step.
    assert [c.step_number for c in checkpoints.data] == [3, 2, 1]
    assert checkpoints.data[0].metrics.train_loss == pytest.approx(2.0 / 3)
    assert checkpoints.data[0].metrics.valid_loss is None  # no validation file
    with pytest.raises(openai.BadRequestError, match="already completed"):
        await client.fine_tuning.jobs.cancel(job_id)


async def test_a_wrong_key_is_refused(fake: FakeOpenAI):
    wrong = AsyncOpenAI(api_key="sk-wrong", base_url=fake.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        await wrong.fine_tuning.jobs.list()
    await wrong.close()


async def test_injected_rate_limits_are_retried_by_the_sdk_at_once(
    client: AsyncOpenAI, fake: FakeOpenAI
):
    fake.fail_next(2, 429)
    await client.fine_tuning.jobs.list()
    assert [r.status for r in fake.requests] == [429, 429, 200]
