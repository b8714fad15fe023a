"""The trainer's API through the real ``openai`` SDK: a job trains in its own process and is
reported as OpenAI reports jobs; bad requests get OpenAI's errors naming the field."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from config.settings import TrainerSettings
from finetune.results import decode_result_file, parse_metrics_csv
from robots.model_ids import validate_model_id
from storage.database import Database
from tests.openapi.clients import checked_session
from tests.trainer.jobs import chat_examples
from tests.trainer.service import (
    TINY,
    TOKEN,
    all_events,
    client_for,
    create_job,
    jsonl,
    trainer_settings,
    upload,
    wait_for_status,
)
from trainer.server import TrainerConfigError, TrainerHandle, start_trainer


async def test_a_job_trains_in_its_own_process_and_reports_like_openai(
    client: AsyncOpenAI, settings: TrainerSettings
):
    file = await upload(client)
    assert (file.purpose, file.filename, file.bytes) == ("fine-tune", "train.jsonl", file.bytes)
    created = await create_job(client, file.id)
    assert created.status == "validating_files" and created.fine_tuned_model is None
    assert re.fullmatch(r"ftjob-[0-9a-f]{24}", created.id)

    job = await wait_for_status(client, created.id)

    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model == f"ft:{TINY}:kobo:robot:{created.id[6:14]}"
    validate_model_id(job.fine_tuned_model)
    assert (job.hyperparameters.n_epochs, job.hyperparameters.batch_size) == (2, 4)
    assert job.seed == 7 and job.trained_tokens > 0 and job.finished_at >= job.created_at
    assert [job.id] == [j.id for j in (await client.fine_tuning.jobs.list()).data]

    # Events: newest first, paged with `after`, each step once, the device named.
    events = await all_events(client, job.id)
    messages = [e.message for e in events]
    assert messages[0] == "The job has successfully completed"
    assert messages[1] == f"New fine-tuned model created: {job.fine_tuned_model}"
    assert messages[-1] == f"Created fine-tuning job: {job.id}"
    assert any(
        m.startswith("Job started on cpu (float32): 12 examples, 2 epochs, 6 steps")
        for m in messages
    )
    steps = [e.data["step"] for e in events if e.type == "metrics"]
    assert steps == [6, 5, 4, 3, 2, 1]
    assert len({e.id for e in events}) == len(events)
    assert "Checkpoint created at step 3" in messages and "Checkpoint created at step 6" in messages

    checkpoints = (await client.fine_tuning.jobs.checkpoints.list(job.id)).data
    assert [c.step_number for c in checkpoints] == [6, 3]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-6"
    assert checkpoints[0].metrics.train_loss is not None

    # The result file is OpenAI's metrics CSV, one row per step.
    content = await client.files.content(job.result_files[0])
    rows = parse_metrics_csv(decode_result_file(content.content))
    assert [row.step for row in rows] == [1, 2, 3, 4, 5, 6]
    result = await client.files.retrieve(job.result_files[0])
    assert result.purpose == "fine-tune-results"

    model_dir = settings.data_dir / "models" / job.id
    described = json.loads((model_dir / "kobo-model.json").read_text(encoding="utf-8"))
    assert described["model"] == job.fine_tuned_model and described["method"] == "lora"

    models = {m.id: m for m in (await client.models.list()).data}
    assert job.fine_tuned_model in models
    tiny = models[TINY].model_dump()
    assert tiny["kobo_trainable"] and tiny["kobo_throughput_measured"]
    assert tiny["kobo_chars_per_second"] > 0 and tiny["kobo_device"] == "cpu"


async def test_a_second_job_waits_queued_and_cancel_kills_the_training_process(
    client: AsyncOpenAI, trainer: TrainerHandle, settings: TrainerSettings
):
    long = await upload(client, jsonl(chat_examples(40)))
    first = await create_job(client, long.id, n_epochs=50, batch_size=1)
    second = await create_job(client, long.id, n_epochs=1)
    await wait_for_status(client, first.id, ("running",))
    assert (await wait_for_status(client, second.id, ("queued",))).status == "queued"
    pid = await trainer.runner.running_pid(first.id)
    assert pid is not None and _alive(pid)

    cancelled = await client.fine_tuning.jobs.cancel(first.id)

    assert cancelled.status == "cancelled" and cancelled.fine_tuned_model is None
    assert not _alive(pid)
    assert not (settings.data_dir / "models" / first.id).exists()
    assert (await all_events(client, first.id))[0].message == "Fine-tuning job cancelled"
    # The slot is free: the queued job starts; cancelling it while it runs works the same.
    await wait_for_status(client, second.id, ("running", "succeeded"))
    await client.fine_tuning.jobs.cancel(second.id)
    with pytest.raises(openai.ConflictError, match="already finished: cancelled"):
        await client.fine_tuning.jobs.cancel(second.id)


async def test_a_bad_training_file_fails_the_job_naming_the_line(client: AsyncOpenAI):
    examples = chat_examples(12)
    examples[6]["messages"][-1]["content"] = " "
    file = await upload(client, jsonl(examples), name="robot.jsonl")
    job = await wait_for_status(client, (await create_job(client, file.id)).id)
    assert job.status == "failed"
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert job.error.message.startswith("robot.jsonl line 7: ")
    assert (await all_events(client, job.id))[0].level == "error"


async def test_a_missing_or_broken_base_model_folder_fails_the_job_clearly(
    tmp_path: Path, tiny_base: Path, db: Database
):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    table = {
        "models": {
            "gone": {"source": str(tmp_path / "no-such-folder")},
            "empty": {"source": str(empty)},
        }
    }
    settings = trainer_settings(tmp_path, tiny_base, local_base_models=json.dumps(table))
    handle = await start_trainer(settings, db, poll_seconds=0.05)
    try:
        async with client_for(handle.url) as client:
            file = await upload(client)
            gone = await wait_for_status(
                client, (await create_job(client, file.id, model="gone")).id
            )
            empty_job = await create_job(client, file.id, model="empty")
            broken = await wait_for_status(client, empty_job.id)
    finally:
        await handle.stop()
    # The training process finds out, and its words become the job's error.
    assert gone.status == "failed" and gone.error.code == "training_failed"
    assert gone.error.message == (
        f"base model 'gone': folder {tmp_path / 'no-such-folder'} does not exist"
    )
    assert broken.status == "failed" and broken.error.code == "training_failed"
    assert broken.error.message == f"base model 'empty': folder {empty} has no config.json"


async def test_create_requests_are_checked_field_by_field(client: AsyncOpenAI):
    file = await upload(client)
    with pytest.raises(openai.BadRequestError) as unknown:
        await create_job(client, file.id, model="gpt-4o-mini")
    assert unknown.value.body["param"] == "model"
    assert (
        "'gpt-4o-mini' is not available" in unknown.value.message and TINY in unknown.value.message
    )
    with pytest.raises(openai.BadRequestError, match="Invalid file ID") as missing:
        await create_job(client, "file-" + "0" * 24)
    assert missing.value.body["param"] == "training_file"
    for hyper, param in (
        ({"n_epochs": 0}, "n_epochs"),
        ({"batch_size": "big"}, "batch_size"),
        ({"learning_rate_multiplier": -1}, "learning_rate_multiplier"),
        ({"lora_rank": 0}, "lora_rank"),
        ({"dropout": 0.1}, "dropout"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            await create_job(client, file.id, **hyper)
        assert refused.value.body["param"] == f"method.supervised.hyperparameters.{param}"
    with pytest.raises(openai.BadRequestError) as suffix:
        await client.fine_tuning.jobs.create(model=TINY, training_file=file.id, suffix="a:b")
    assert suffix.value.body["param"] == "suffix" and "':'" in suffix.value.message
    assert (await client.fine_tuning.jobs.list()).data == []


async def test_without_the_right_token_every_request_is_refused(trainer: TrainerHandle):
    for token in ("wrong-token", TOKEN[:-1]):
        async with client_for(trainer.url, token) as client:
            with pytest.raises(openai.AuthenticationError, match="Incorrect API key"):
                await client.fine_tuning.jobs.list()
    async with checked_session() as session:
        for path in ("/v1/models", "/v1/no-such-path"):
            async with session.get(trainer.url + path) as response:
                assert response.status == 401
                assert (await response.json())["error"]["message"].startswith(
                    "You didn't provide an API key"
                )


async def test_listening_beyond_loopback_needs_a_token(
    tmp_path: Path, tiny_base: Path, db: Database
):
    exposed = trainer_settings(tmp_path, tiny_base, trainer_host="0.0.0.0", trainer_token=None)
    with pytest.raises(TrainerConfigError, match="TRAINER_TOKEN"):
        await start_trainer(exposed, db)


async def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(
    tmp_path: Path, tiny_base: Path, db: Database
):
    settings = trainer_settings(tmp_path, tiny_base, trainer_max_file_bytes=1000)
    handle = await start_trainer(settings, db)
    try:
        async with client_for(handle.url) as client:
            with pytest.raises(openai.APIStatusError) as refused:
                await upload(client, b"x" * 200_000)
            assert refused.value.status_code == 413
            assert "TRAINER_MAX_FILE_BYTES" in refused.value.message
            # Just over the limit: read as it streams in, then refused.
            with pytest.raises(openai.APIStatusError) as streamed:
                await upload(client, b"x" * 1001)
            assert streamed.value.status_code == 413
            small = await upload(client, b"x" * 1000)
    finally:
        await handle.stop()
    stored = os.listdir(settings.data_dir / "trainer" / "files")
    assert stored == [small.id]


async def test_malformed_uploads_get_openai_errors(trainer: TrainerHandle, client: AsyncOpenAI):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with checked_session(headers=headers) as session:
        broken = b"--xyz\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\nabc"
        async with session.post(
            trainer.url + "/v1/files",
            data=broken,
            headers={"Content-Type": "multipart/form-data; boundary=other"},
        ) as response:
            assert response.status == 400
            body = await response.json()
            assert "not valid multipart/form-data" in body["error"]["message"]
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("purpose", "fine-tune")
        async with session.post(trainer.url + "/v1/files", data=form) as response:
            assert response.status == 400
            assert (await response.json())["error"]["param"] == "file"
    with pytest.raises(openai.BadRequestError, match="purpose must be 'fine-tune'"):
        await client.files.create(file=("a.jsonl", b"{}\n"), purpose="batch")
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve("file-" + "0" * 24)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
