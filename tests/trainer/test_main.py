"""``python -m trainer`` as a real process: killed with -9 mid-job, started again, the job resumes
from its checkpoint and succeeds with every step, checkpoint and notice recorded once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

from storage.database import Database
from storage.trainer import TrainerRepository
from tests.ceilings import PROCESS_SECONDS
from tests.trainer.jobs import chat_examples
from tests.trainer.service import (
    TINY,
    TOKEN,
    all_events,
    client_for,
    create_job,
    jsonl,
    upload,
    wait_for_status,
)
from tests.trainer.tiny_models import base_models_setting

REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS_PER_EPOCH = 16
# Many epochs of a tiny model: the kill after the first checkpoint comes well before the end.
EPOCHS = 10


def _env(tmp_path: Path, tiny_base: Path, **settings: str) -> dict[str, str]:
    names = ("DATABASE_PATH", "DATA_DIR", "LOG_LEVEL", "LOCAL_BASE_MODELS")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRAINER_")}
    env = {k: v for k, v in env.items() if k.upper() not in names}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(
        DATABASE_PATH=str(tmp_path / "trainer.sqlite3"),
        DATA_DIR=str(tmp_path / "data"),
        TRAINER_HOST="127.0.0.1",
        TRAINER_PORT="0",
        TRAINER_TOKEN=TOKEN,
        TRAINER_DEVICE="cpu",
        TRAINER_NICENESS="0",  # not starved by the other tests (tests/conftest.py)
        LOCAL_BASE_MODELS=base_models_setting(TINY, tiny_base),
        LOG_LEVEL="INFO",
    )
    env.update(settings)
    return env


async def _start(tmp_path: Path, tiny_base: Path) -> tuple[asyncio.subprocess.Process, str]:
    """Start the trainer (cwd tmp_path: no developer .env); return it and its URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trainer",
        cwd=tmp_path,
        env=_env(tmp_path, tiny_base),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    lines = []
    deadline = time.monotonic() + PROCESS_SECONDS
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(process.stderr.readline(), timeout=PROCESS_SECONDS)
        if not raw:
            break
        lines.append(raw.decode())
        if found := re.search(r"trainer listening on (http://127\.0\.0\.1:\d+)", lines[-1]):
            # Keep reading its log, or a full pipe would stall it.
            asyncio.get_running_loop().create_task(process.stderr.read())
            return process, found.group(1)
    process.kill()
    await process.wait()
    raise AssertionError("the trainer did not start:\n" + "".join(lines))


async def test_a_job_resumes_from_its_checkpoint_after_the_trainer_is_killed(
    tmp_path: Path, tiny_base: Path
):
    trainer, url = await _start(tmp_path, tiny_base)
    try:
        async with client_for(url) as client:
            file = await upload(client, jsonl(chat_examples(STEPS_PER_EPOCH)))
            job = await create_job(client, file.id, n_epochs=EPOCHS, batch_size=1)
            await wait_for_status(client, job.id, ("running",))
            async with asyncio.timeout(120):
                while True:
                    if (await client.fine_tuning.jobs.checkpoints.list(job.id)).data:
                        break
                    await asyncio.sleep(0.02)
    finally:
        trainer.kill()
        await trainer.wait()
    assert trainer.returncode == -signal.SIGKILL

    db = await Database.open(tmp_path / "trainer.sqlite3")
    try:
        left = await TrainerRepository(db).get_job(job.id)
    finally:
        await db.close()
    assert left.status == "running", "the job ended before the trainer could be killed"
    # Its training process noticed that its trainer is gone, and went too.
    async with asyncio.timeout(30):
        while True:
            if not _alive(left.pid):
                break
            await asyncio.sleep(0.05)

    trainer, url = await _start(tmp_path, tiny_base)
    try:
        async with client_for(url) as client:
            finished = await wait_for_status(client, job.id)
            events = await all_events(client, job.id)
            checkpoints = (await client.fine_tuning.jobs.checkpoints.list(job.id)).data
            content = await client.files.content(finished.result_files[0])
    finally:
        trainer.send_signal(signal.SIGTERM)
        await asyncio.wait_for(trainer.wait(), timeout=PROCESS_SECONDS)
    assert trainer.returncode == 0

    assert finished.status == "succeeded", finished.error
    messages = [e.message for e in events]
    resumes = [m for m in messages if "after a restart" in m]
    assert len(resumes) == 1 and resumes[0].startswith("Resuming from the checkpoint at step")
    assert any(m.startswith("Job resumed on cpu (float32) from the checkpoint") for m in messages)
    total = STEPS_PER_EPOCH * EPOCHS
    steps = sorted(e.data["step"] for e in events if e.type == "metrics")
    assert steps == list(range(1, total + 1))  # each once, though steps were trained twice
    assert [c.step_number for c in checkpoints] == list(range(total, 0, -STEPS_PER_EPOCH))
    assert messages.count("The job has successfully completed") == 1
    assert content.text.count("\n") == total + 1


async def test_bad_settings_end_it_with_one_line_and_status_2(tmp_path: Path, tiny_base: Path):
    for settings, expected in (
        ({"TRAINER_HOST": "0.0.0.0", "TRAINER_TOKEN": ""}, "set TRAINER_TOKEN"),
        ({"LOCAL_BASE_MODELS": "{not json"}, "LOCAL_BASE_MODELS"),
        ({"TRAINER_PORT": "70000"}, "TRAINER_PORT is invalid"),
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "trainer",
            cwd=tmp_path,
            env=_env(tmp_path, tiny_base, **settings),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await asyncio.wait_for(process.communicate(), timeout=PROCESS_SECONDS)
        lines = errors.decode().strip().splitlines()
        assert process.returncode == 2, lines
        assert lines[-1].startswith("kobo: ") and expected in lines[-1], lines
        assert TOKEN not in errors.decode()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
