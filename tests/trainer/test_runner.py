"""The runner after a restart: a job whose training process finished while the trainer was down
is finished from its progress file, not trained again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from storage.database import Database
from storage.trainer import TrainerFile, TrainerJob, TrainerRepository
from tests.trainer.jobs import chat_examples
from tests.trainer.service import TINY, jsonl, trainer_settings
from trainer.base_models import load_base_models
from trainer.job_request import parse_job_request
from trainer.progress import RunClock, interpret
from trainer.runner import JobRunner

JOB_ID = "ftjob-" + "b" * 24
MODEL = f"ft:{TINY}:kobo::bbbbbbbb"


def _lines() -> list[dict[str, object]]:
    started = {"type": "started", "device": "cpu", "dtype": "float32", "examples": 2,
               "total_steps": 2, "n_epochs": 1, "trainable_parameters": 10,
               "resumed_from_step": None, "time": 10}  # fmt: skip
    steps = [
        {"type": "metrics", "step": s, "total_steps": 2, "epoch": 1, "train_loss": 2.0 / s,
         "train_mean_token_accuracy": 0.5, "tokens": s, "chars": s, "time": 10 + s}
        for s in (1, 2)
    ]  # fmt: skip
    checkpoint = {"type": "checkpoint", "step": 2, "epoch": 1, "metrics": {"train_loss": 1.0},
                  "time": 13}  # fmt: skip
    succeeded = {"type": "succeeded", "trained_tokens": 40, "chars_per_second": 12.5,
                 "peak_memory_bytes": 1000, "time": 14}  # fmt: skip
    return [started, *steps, checkpoint, succeeded]


def _job() -> TrainerJob:
    return TrainerJob(
        id=JOB_ID,
        base_model=TINY,
        model_name=MODEL,
        training_file="file-1",
        validation_file=None,
        suffix=None,
        seed=1,
        method="lora",
        hyperparameters={"n_epochs": 1, "batch_size": 1, "learning_rate_multiplier": 1.0},
        merge=False,
        metadata=None,
        status="running",
        created_unix=1,
        pid=None,
    )


def test_the_offset_stored_with_a_final_line_is_where_that_line_starts():
    raw = [json.dumps(line).encode() for line in _lines()]
    offsets, position = [], 0
    for line in raw:
        offsets.append((position, line))
        position += len(line) + 1
    batch = interpret(_job(), offsets, position, RunClock(), now=20)
    assert batch.succeeded is not None
    assert batch.changes().progress_offset == offsets[-1][0] < position


async def test_a_job_that_ended_while_the_trainer_was_down_is_finished_at_start(
    tmp_path: Path, tiny_base: Path, db: Database
):
    settings = trainer_settings(tmp_path, tiny_base)
    runner = JobRunner(
        db, settings, load_base_models(settings.local_base_models, data_dir=tmp_path)
    )
    repository = TrainerRepository(db)
    await repository.add_job(_job())
    job_dir = runner.paths.job_dir(JOB_ID)
    job_dir.mkdir(parents=True)
    (job_dir / "progress.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in _lines()), encoding="utf-8"
    )
    (job_dir / "results.csv").write_text(
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.0,0.5,,\n"
        "2,1.0,0.5,,\n",
        encoding="utf-8",
    )
    runner.paths.model_dir(JOB_ID).mkdir(parents=True)

    await runner.start()
    await runner.stop()

    job = await repository.get_job(JOB_ID)
    assert job.status == "succeeded" and (job.trained_tokens, job.chars_per_second) == (40, 12.5)
    events = (await repository.list_events(JOB_ID, after=None, limit=20)).items
    messages = [e.message for e in events]
    assert messages[:2] == [
        "The job has successfully completed",
        f"New fine-tuned model created: {MODEL}",
    ]
    assert not any("after a restart" in m for m in messages)
    assert [e.data["step"] for e in events if e.type == "metrics"] == [2, 1]
    result = await repository.get_file(job.result_file)
    assert result.purpose == "fine-tune-results"
    assert runner.paths.absolute(result.path).read_text(encoding="utf-8").startswith("step,")


async def test_a_learning_rate_multiplier_scales_the_workers_default_rate(
    tmp_path: Path, tiny_base: Path, db: Database
):
    from trainer import worker  # imports torch: only this test needs it

    settings = trainer_settings(tmp_path, tiny_base)
    runner = JobRunner(
        db, settings, load_base_models(settings.local_base_models, data_dir=tmp_path)
    )
    file_id = "file-" + "c" * 24
    relative = runner.paths.file_relative(file_id)
    runner.paths.absolute(relative).parent.mkdir(parents=True)
    runner.paths.absolute(relative).write_bytes(jsonl(chat_examples(12)))
    training = TrainerFile(file_id, "t.jsonl", "fine-tune", 1, "x", relative, 1)
    await runner.repository.add_file(training)
    body = {
        "model": TINY,
        "training_file": training.id,
        "method": {
            "type": "supervised",
            "supervised": {"hyperparameters": {"learning_rate_multiplier": 2}},
        },
    }
    job = await runner.create_job(parse_job_request(body, runner.base_models), training)
    async with asyncio.timeout(30):
        while True:
            if (await runner.repository.get_job(job.id)).status != "validating_files":
                break
            await asyncio.sleep(0.05)
    await runner.stop()  # never started: no training

    spec = json.loads((runner.paths.job_dir(job.id) / "spec.json").read_text(encoding="utf-8"))
    assert spec["hyperparameters"]["learning_rate"] == 2 * worker.DEFAULT_LEARNING_RATES["lora"]
    assert spec["hyperparameters"]["n_epochs"] == 8  # OpenAI's "auto": 100 // 12 examples
