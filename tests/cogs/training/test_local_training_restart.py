"""kill -9 of ``python -m bot`` and of its training process in the middle of a local fine-tune: the
next start resumes the job, and the channel gets exactly one success notice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
from pathlib import Path

from tests.bot.kobo_process import start_kobo, wait_until_serving
from tests.cogs.training.test_local_training_e2e import TINY, TRAINING_TIMEOUT, local_options
from tests.cogs.training.test_training_e2e import start_training
from tests.trainer.tiny_models import base_models_setting, build_tiny_model

EPOCHS = 30
STEPS_PER_EPOCH = 3  # 10 examples in batches of 4


def training_pid(database: Path, job_id: str) -> int | None:
    """The training process of ``job_id`` as the trainer recorded it, once it has a checkpoint
    (so that the restart has something to resume from)."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        row = conn.execute(
            "SELECT pid, (SELECT COUNT(*) FROM trainer_checkpoints c WHERE c.job_id = j.id)"
            " FROM trainer_jobs j WHERE id = ?",
            (job_id,),
        ).fetchone()
    return row[0] if row and row[1] else None


async def drained(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    """Read the process's log as it comes, so that a full pipe never stalls it."""
    async for raw in process.stderr:
        lines.append(raw.decode())


async def test_kill_9_of_the_bot_and_the_training_gives_one_success_notice(
    fake_discord, workshop, tmp_path
):
    env = {
        "GUILD_ID": str(workshop.guild.id),
        "STAFF_ROLE": "Staff",
        "LOCAL_TRAINING": "true",
        "TRAINER_PORT": "0",
        "LOCAL_BASE_MODELS": base_models_setting(TINY, build_tiny_model(tmp_path / TINY)),
        "FINETUNE_POLL_SECONDS": "0.2",
    }
    data = tmp_path / "run"
    data.mkdir()
    lines: list[str] = []
    process, port = await start_kobo(fake_discord, data, **env)
    reading = asyncio.create_task(drained(process, lines))
    try:
        await wait_until_serving(process, port, fake_discord, workshop.guild)
        # A checkpoint at the end of each epoch; the tiny model trains an epoch in a blink, so
        # many epochs leave the training unfinished when the kill comes after the first one.
        job_id = await start_training(
            fake_discord, workshop, local_options(fake_discord, epochs=EPOCHS)
        )
        for _ in range(TRAINING_TIMEOUT * 10):
            if (pid := training_pid(data / "kobo.sqlite3", job_id)) is not None:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no checkpoint:\n" + "".join(lines))
        process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reading

    restarted, port = await start_kobo(fake_discord, data, **env)
    reading = asyncio.create_task(drained(restarted, lines))
    try:
        await wait_until_serving(restarted, port, fake_discord, workshop.guild)
        await fake_discord.wait_for_channel_message(
            workshop.channel,
            lambda m: "✅" in m.content and job_id in m.content,
            timeout=TRAINING_TIMEOUT,
        )
        await asyncio.sleep(1)  # five more polls: nothing may be posted twice
    finally:
        restarted.send_signal(signal.SIGTERM)
        await asyncio.wait_for(restarted.wait(), 30)
        await reading
    texts = [m.content for m in fake_discord.channel_messages(workshop.channel)]
    assert sum(job_id in t and "✅" in t for t in texts) == 1, texts
    assert sum(job_id in t and "started training" in t for t in texts) == 1, texts
    with contextlib.closing(sqlite3.connect(data / "kobo.sqlite3")) as conn:
        events = [m for (m,) in conn.execute("SELECT message FROM trainer_events ORDER BY rowid")]
    # It went on from a checkpoint rather than from the start, and trained each step once.
    resumed = [
        e
        for e in events
        if re.fullmatch(r"Resuming from the checkpoint at step \d+ after a restart", e)
    ]
    assert len(resumed) == 1, events
    steps = [e.split(":")[0] for e in events if e.startswith("Step ")]
    assert len(steps) == len(set(steps)) == EPOCHS * STEPS_PER_EPOCH, events
