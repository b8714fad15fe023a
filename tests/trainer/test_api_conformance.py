"""The trainer answers the ``openai`` SDK's files and models calls as OpenAI does (every answer is
also checked against OpenAI's published schema: tests/openapi): files.list with OpenAI's
parameters, models.retrieve of what models.list shows, models.delete of a kobo fine-tune."""

from __future__ import annotations

import openai
import pytest
from openai import AsyncOpenAI

from config.settings import TrainerSettings
from storage.assignments import AssignmentRepository
from storage.database import Database
from tests.openapi.clients import checked_session
from tests.trainer.service import (
    TINY,
    TOKEN,
    create_job,
    upload,
    wait_for_status,
)
from trainer.server import TrainerHandle

STAFF = {"by_id": "1001", "by_name": "Aiko"}


async def test_files_list_pages_filters_and_orders_as_openai(client: AsyncOpenAI):
    assert (await client.files.list()).data == []
    uploaded = [await upload(client, name=f"robot-{n}.jsonl") for n in range(3)]
    newest_first = [f.id for f in reversed(uploaded)]

    assert [f.id for f in (await client.files.list()).data] == newest_first
    # The SDK follows `after` page by page.
    assert [f.id async for f in client.files.list(limit=2)] == newest_first
    first = await client.files.list(limit=2)
    assert (
        first.has_more and not (await client.files.list(limit=2, after=first.data[-1].id)).has_more
    )
    assert [f.id for f in (await client.files.list(order="asc")).data] == newest_first[::-1]
    assert [f.filename for f in (await client.files.list(purpose="fine-tune")).data] == [
        "robot-2.jsonl",
        "robot-1.jsonl",
        "robot-0.jsonl",
    ]
    assert (await client.files.list(purpose="fine-tune-results")).data == []
    assert (await client.files.list(after="file-" + "0" * 24)).data == []

    await client.files.delete(uploaded[1].id)
    assert [f.id for f in (await client.files.list()).data] == [uploaded[2].id, uploaded[0].id]
    with pytest.raises(openai.BadRequestError) as order:
        await client.files.list(order="newest")
    assert order.value.body["param"] == "order"
    with pytest.raises(openai.BadRequestError) as limit:
        await client.files.list(limit=0)
    assert limit.value.body["param"] == "limit" and "10,000" in limit.value.message


async def test_a_file_object_has_no_nulls_where_openai_has_numbers_or_strings(
    trainer: TrainerHandle, client: AsyncOpenAI
):
    file = await upload(client)
    async with checked_session(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        for path in (f"/v1/files/{file.id}", "/v1/files"):
            async with session.get(trainer.url + path) as response:
                assert response.status == 200, path
                body = await response.json()
            shown = body["data"][0] if "data" in body else body
            assert None not in shown.values(), path
    assert file.expires_at is None and file.status == "processed"


async def test_models_retrieve_answers_what_models_list_shows(
    client: AsyncOpenAI, trainer: TrainerHandle
):
    file = await upload(client)
    job = await wait_for_status(client, (await create_job(client, file.id)).id)
    assert job.status == "succeeded", job.error

    listed = {m.id: m.model_dump() for m in (await client.models.list()).data}
    assert set(listed) == {*trainer.runner.base_models, job.fine_tuned_model}
    for name, shown in listed.items():
        assert (await client.models.retrieve(name)).model_dump() == shown
    fine_tune = await client.models.retrieve(job.fine_tuned_model)
    assert fine_tune.model_dump()["kobo_base_model"] == TINY and fine_tune.owned_by == "kobo"
    with pytest.raises(openai.NotFoundError) as missing:
        await client.models.retrieve("ft:tiny:kobo:robot:00000000")
    assert missing.value.body["code"] == "model_not_found"
    assert missing.value.body["param"] == "model"


async def test_models_delete_removes_a_fine_tune_unless_a_robot_is_assigned_it(
    client: AsyncOpenAI, trainer: TrainerHandle, settings: TrainerSettings, db: Database
):
    file = await upload(client)
    job = await wait_for_status(client, (await create_job(client, file.id)).id)
    assert job.status == "succeeded", job.error
    folder = settings.data_dir / "models" / job.id
    assert folder.is_dir()
    assignments = AssignmentRepository(db)
    await assignments.assign(3, job.fine_tuned_model, **STAFF)

    # Robot #3 would go silent: refused, and nothing changes.
    with pytest.raises(openai.ConflictError) as in_use:
        await client.models.delete(job.fine_tuned_model)
    assert in_use.value.body["code"] == "model_in_use"
    assert "robot #3" in in_use.value.message
    assert folder.is_dir()
    assert (await client.models.retrieve(job.fine_tuned_model)).id == job.fine_tuned_model

    await assignments.unassign(3, **STAFF)
    deleted = await client.models.delete(job.fine_tuned_model)

    assert (deleted.id, deleted.object, deleted.deleted) == (job.fine_tuned_model, "model", True)
    assert not folder.exists()
    assert [m.id for m in (await client.models.list()).data] == list(trainer.runner.base_models)
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve(job.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        await client.models.delete(job.fine_tuned_model)
    # As at OpenAI, the job still names the model it made.
    assert (await client.fine_tuning.jobs.retrieve(job.id)).fine_tuned_model == job.fine_tuned_model
    with pytest.raises(openai.PermissionDeniedError, match="base model"):
        await client.models.delete(TINY)
    assert TINY in [m.id for m in (await client.models.list()).data]
