"""Robots keep answering while a model trains: the training process runs at TRAINER_NICENESS,
and uses fewer threads while the gateway says robots are chatting (trainer/cpu_share.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.chatting import chatting_file
from storage.database import Database
from storage.trainer import TrainerFile
from tests.trainer.jobs import (
    ROOT,
    chat_examples,
    progress_lines,
    wait_for_line,
    write_jsonl,
    write_spec,
)
from tests.trainer.service import TINY, jsonl, trainer_settings
from trainer.base_models import load_base_models
from trainer.cpu_share import CHATTING_FILE_VARIABLE, QUIET_SECONDS
from trainer.job_request import parse_job_request
from trainer.runner import JobRunner


def thread_niceness(pid: int) -> dict[int, int]:
    """Each thread of ``pid`` and its niceness (field 19 of /proc/<pid>/task/<tid>/stat)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread just ended
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)"
        found[int(task.name)] = int(fields[16])
    return found


async def test_the_training_process_runs_at_the_configured_niceness(
    tmp_path: Path, tiny_base: Path, db: Database
):
    niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)
    settings = trainer_settings(tmp_path, tiny_base, trainer_niceness=niceness)
    runner = JobRunner(
        db, settings, load_base_models(settings.local_base_models, data_dir=tmp_path)
    )
    file_id = "file-" + "d" * 24
    relative = runner.paths.file_relative(file_id)
    runner.paths.absolute(relative).parent.mkdir(parents=True)
    runner.paths.absolute(relative).write_bytes(jsonl(chat_examples(12)))
    training = TrainerFile(file_id, "t.jsonl", "fine-tune", 1, "x", relative, 1)
    await runner.repository.add_file(training)
    body = {
        "model": TINY,
        "training_file": training.id,
        "hyperparameters": {"n_epochs": 50, "batch_size": 1},
    }
    await runner.start()
    try:
        job = await runner.create_job(parse_job_request(body, runner.base_models), training)
        job_dir = runner.paths.job_dir(job.id)
        async with asyncio.timeout(120):
            while not any(line["type"] == "metrics" for line in progress_lines(job_dir)):
                assert (await runner.repository.get_job(job.id)).status != "failed"
                await asyncio.sleep(0.02)
            pid = await runner.running_pid(job.id)
        assert pid is not None
        threads = thread_niceness(pid)
        assert len(threads) > 1  # torch's threads too, not only the first one
        assert set(threads.values()) == {niceness}
        # In a session of its own the training is a scheduling group of its own (autogroups):
        # only the group's nice value keeps it behind the engine.
        assert autogroup_niceness(pid) in (None, niceness)  # None: a kernel without them
    finally:
        await runner.stop()


def autogroup_niceness(pid: int) -> int | None:
    """The nice value of the process's autogroup ("/autogroup-7 nice 19")."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except FileNotFoundError:
        return None


def start_worker(spec: Path, robots_chatting: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        CHATTING_FILE_VARIABLE: str(robots_chatting),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "trainer.worker", str(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=spec.parent,
        env=environment,
    )


def wait_for_metrics(
    process: subprocess.Popen[bytes],
    job_dir: Path,
    wanted: Callable[[dict[str, Any]], bool],
    *,
    after_step: int,
    timeout: float = 120,
) -> dict[str, Any]:
    """The first metrics line after ``after_step`` that ``wanted`` accepts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in progress_lines(job_dir):
            if line["type"] == "metrics" and line["step"] > after_step and wanted(line):
                return line
        assert process.poll() is None, f"the worker ended ({process.returncode})"
        time.sleep(0.005)
    raise AssertionError(f"no such metrics line within {timeout} s")


def test_the_training_gives_threads_to_chatting_robots_and_takes_them_back(
    tmp_path: Path, tiny_base: Path
):
    robots_chatting = chatting_file(tmp_path / "data")
    robots_chatting.parent.mkdir()
    training = write_jsonl(tmp_path / "train.jsonl", chat_examples(3000))
    spec = write_spec(
        tmp_path / "job", base=tiny_base, training_file=training, n_epochs=1, batch_size=1,
        threads=4,
    )  # fmt: skip
    job_dir = spec.parent
    process = start_worker(spec, robots_chatting)
    try:
        first = wait_for_line(process, job_dir, "metrics", timeout=120)
        assert first["threads"] == 4  # no robot has chatted yet: all of them

        robots_chatting.touch()  # a chat starts
        busy = wait_for_metrics(
            process, job_dir, lambda m: m["threads"] == 2, after_step=first["step"]
        )
        robots_chatting.unlink()  # the gateway never does, but no file means no chats
        quiet = wait_for_metrics(
            process, job_dir, lambda m: m["threads"] == 4, after_step=busy["step"]
        )
        robots_chatting.touch()
        busy = wait_for_metrics(
            process, job_dir, lambda m: m["threads"] == 2, after_step=quiet["step"]
        )
        # The last chat ended longer ago than the quiet time: all threads again.
        long_ago = time.time() - 2 * QUIET_SECONDS
        os.utime(robots_chatting, (long_ago, long_ago))
        wait_for_metrics(process, job_dir, lambda m: m["threads"] == 4, after_step=busy["step"])
    finally:
        process.kill()
        process.wait()
        process.stdin.close()
