"""A full disk under DATA_DIR (issue #15, item 4): the job is failed saying so, the queue lives on
and trains the next job once there is space again, and an upload is refused as "disk full".

The disk is a real one: ``python -m trainer`` runs in a mount namespace of its own (``unshare``;
as a user namespace's root when the tests do not run as root) where DATA_DIR, the database in it,
is a small tmpfs. The test fills it through ``/proc/<pid>/root``. Nothing is mounted outside that
namespace, and the mount goes with the process. A real full file system, rather than an injected
errno, because what fails and where (SQLite's journal, the worker's checkpoint, an upload's
fsync) is what the test is about.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import signal
import sys
from pathlib import Path

import openai

from tests.trainer.jobs import chat_examples
from tests.trainer.service import client_for, create_job, jsonl, upload, wait_for_status
from tests.trainer.test_main import _env

DISK_SIZE = "24m"
STEPS_PER_EPOCH = 32
EPOCHS = 50  # far more than the disk leaves time for
MOUNT_AND_RUN = 'mount -t tmpfs -o size={size} tmpfs "$DATA_DIR" && exec "$0" -m trainer'


async def _start_on_a_small_disk(tmp_path: Path, tiny_base: Path):
    data = tmp_path / "data"
    data.mkdir()
    env = _env(tmp_path, tiny_base, DATABASE_PATH=str(data / "trainer.sqlite3"))
    namespace = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-rm"]
    process = await asyncio.create_subprocess_exec(
        *namespace,
        "sh",
        "-c",
        MOUNT_AND_RUN.format(size=DISK_SIZE),
        sys.executable,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    while raw := await asyncio.wait_for(process.stderr.readline(), timeout=60):
        lines.append(raw.decode())
        if found := re.search(r"trainer listening on (http://127\.0\.0\.1:\d+)", lines[-1]):
            asyncio.get_running_loop().create_task(_drain(process, lines))
            # The namespace's view of DATA_DIR: the small disk.
            return process, found.group(1), Path(f"/proc/{process.pid}/root{data}"), lines
    await process.wait()
    raise AssertionError("the trainer did not start:\n" + "".join(lines))


async def _drain(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    async for raw in process.stderr:
        lines.append(raw.decode())


def _fill(folder: Path) -> Path:
    """Write a file until the disk takes no more byte."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as file:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    file.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def _workers_of(pid: int) -> list[int]:
    """The training processes the trainer ``pid`` started (they are its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status and b"trainer.worker" in command:
            found.append(int(entry.name))
    return found


async def test_a_full_disk_fails_the_job_and_the_queue_trains_the_next_one(
    tmp_path: Path, tiny_base: Path
):
    trainer, url, disk, log = await _start_on_a_small_disk(tmp_path, tiny_base)
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
            filler = _fill(disk)

            try:
                await upload(client, jsonl(chat_examples(4)), name="more.jsonl")
            except openai.InternalServerError as exc:
                refusal = exc
            else:
                raise AssertionError("an upload onto a full disk was accepted")
            # The training process cannot save its next checkpoint, and ends.
            async with asyncio.timeout(120):
                while True:
                    if not _workers_of(trainer.pid):
                        break
                    await asyncio.sleep(0.1)

            filler.unlink()  # the space comes back
            failed = await wait_for_status(client, job.id, within=60)
            second = await create_job(client, (await upload(client)).id, n_epochs=1, batch_size=4)
            finished = await wait_for_status(client, second.id, within=120)
    finally:
        trainer.send_signal(signal.SIGTERM)
        await asyncio.wait_for(trainer.wait(), timeout=30)

    assert refusal.status_code == 507, refusal
    assert refusal.code == "disk_full" and "disk is full" in refusal.message
    assert failed.status == "failed", failed.status
    assert failed.error.code == "disk_full", failed.error
    assert "DATA_DIR" in failed.error.message and "is full" in failed.error.message
    assert finished.status == "succeeded", (finished.error, "".join(log[-30:]))
    assert trainer.returncode == 0, "".join(log[-30:])
