"""``python -m trainer`` after a kill -9 left damaged progress files: it starts, and each job whose
state cannot be read is failed with a message naming its file (issue #15, item 3)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from storage.database import Database
from storage.trainer import TrainerJob, TrainerRepository
from tests.trainer.service import TINY, client_for, upload
from tests.trainer.test_main import _start
from trainer.progress import MAX_READ_BYTES

GOOD = [
    {"type": "started", "device": "cpu", "dtype": "float32", "examples": 4, "total_steps": 4,
     "n_epochs": 1, "trainable_parameters": 10, "resumed_from_step": None, "time": 10},
    {"type": "metrics", "step": 1, "total_steps": 4, "epoch": 1, "train_loss": 2.0,
     "train_mean_token_accuracy": 0.5, "tokens": 5, "chars": 9, "time": 11},
]  # fmt: skip
DAMAGE = {
    "out_of_range": json.dumps({"type": "checkpoint", "step": -1}).encode(),
    "wrong_types": json.dumps({"type": "metrics", "step": "2", "total_steps": [4]}).encode(),
    "garbage_bytes": b"\xff\xfe\x00\x9cgarbage\x00\x01",
    "truncated_json": b'{"type": "metrics", "step": 2, "total_st',
    "huge_line": json.dumps({"type": "warning", "message": "x" * (2 * MAX_READ_BYTES)}).encode(),
}
AFTER = {"type": "checkpoint", "step": 4, "epoch": 1, "metrics": {"train_loss": 1.0}, "time": 14}


def _job(number: int) -> TrainerJob:
    job_id = f"ftjob-{number:024x}"
    return TrainerJob(
        id=job_id,
        base_model=TINY,
        model_name=f"ft:{TINY}:kobo::{job_id[-8:]}",
        training_file="file-" + "0" * 24,
        validation_file=None,
        suffix=None,
        seed=1,
        method="lora",
        hyperparameters={"n_epochs": 1, "batch_size": 1, "learning_rate_multiplier": 1.0},
        merge=False,
        metadata=None,
        status="running",
        created_unix=1,
    )


async def _leave_damaged_jobs(tmp_path: Path) -> dict[str, Path]:
    """Jobs a killed trainer left running, each progress file damaged in its own way."""
    files = {}
    db = await Database.open(tmp_path / "trainer.sqlite3")
    try:
        repository = TrainerRepository(db)
        for number, (kind, damage) in enumerate(DAMAGE.items(), start=1):
            job = _job(number)
            await repository.add_job(job)
            job_dir = tmp_path / "data" / "trainer" / "jobs" / job.id
            job_dir.mkdir(parents=True)
            good = b"".join(json.dumps(line).encode() + b"\n" for line in GOOD)
            path = job_dir / "progress.jsonl"
            path.write_bytes(good + damage + b"\n" + json.dumps(AFTER).encode() + b"\n")
            files[kind] = (job.id, path)
    finally:
        await db.close()
    return files


async def test_damaged_progress_files_fail_their_jobs_and_the_trainer_starts(
    tmp_path: Path, tiny_base: Path
):
    damaged = await _leave_damaged_jobs(tmp_path)

    trainer, url = await _start(tmp_path, tiny_base)
    try:
        async with client_for(url) as client:
            jobs = {
                kind: await client.fine_tuning.jobs.retrieve(i) for kind, (i, _) in damaged.items()
            }
            checkpoints = {
                kind: (await client.fine_tuning.jobs.checkpoints.list(i)).data
                for kind, (i, _) in damaged.items()
            }
            events = [e async for e in client.fine_tuning.jobs.list_events(damaged["huge_line"][0])]
            stored = await upload(client)  # and it serves as ever
    finally:
        trainer.send_signal(signal.SIGTERM)
        await trainer.wait()
    assert trainer.returncode == 0

    for kind, (_, path) in damaged.items():
        job = jobs[kind]
        assert job.status == "failed", (kind, job.status)
        assert job.error.code == "progress_unreadable", kind
        assert str(path) in job.error.message, (kind, job.error.message)
        assert f"damaged at byte {path.read_bytes().index(DAMAGE[kind])}" in job.error.message
        assert checkpoints[kind] == [], kind  # nothing after the damage was taken for true
    assert "step is -1" in jobs["out_of_range"].error.message
    assert "longer than 1,048,576 bytes" in jobs["huge_line"].error.message
    # What came before the damage is kept.
    assert "Step 1/4: training loss=2.00" in [e.message for e in events]
    assert stored.bytes > 0


def test_half_a_line_left_by_a_kill_is_cut_before_the_next_run(tmp_path: Path):
    from trainer.runner import _cut_partial_line

    path = tmp_path / "progress.jsonl"
    whole = json.dumps(GOOD[0]).encode() + b"\n" + json.dumps(GOOD[1]).encode() + b"\n"
    path.write_bytes(whole + b'{"type": "metrics", "st')
    _cut_partial_line(path)
    assert path.read_bytes() == whole  # not a damaged line for the next run to stop at
    path.write_bytes(b"x" * 200_000)  # no line end at all
    _cut_partial_line(path)
    assert path.read_bytes() == b""
