"""``python -m bot train``: the same local fine-tuning as /train backend:local, from a shell, with
the trainer started inside the command and a tiny model."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finetune.models import default_model_table
from i18n import text
from tests.ceilings import PROCESS_SECONDS
from tests.cogs.training.test_training_e2e import chat_jsonl
from tests.fakes.openai import FakeOpenAI
from tests.trainer.tiny_models import base_models_setting, build_tiny_model

ROOT = Path(__file__).resolve().parents[2]
TINY = "tiny"
OPENAI_BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base-models") / TINY)


def environment(tmp_path: Path, tiny_model: Path, **more: str) -> dict[str, str]:
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "OPENAI_", "TRAINER_", "KOBO_", "LOCAL_"))
        },
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_PATH": str(tmp_path / "data" / "kobo.sqlite3"),
        "TRAINER_PORT": "0",
        "TRAINER_NICENESS": "0",  # not starved by the other tests (tests/conftest.py)
        "LOCAL_BASE_MODELS": base_models_setting(TINY, tiny_model),
        **more,
    }


def training_pid(database: Path) -> int | None:
    """The running training process, as the trainer recorded it."""
    if not database.exists():
        return None
    with contextlib.closing(sqlite3.connect(database)) as conn:
        try:
            row = conn.execute(
                "SELECT pid FROM trainer_jobs WHERE status = 'running' AND pid IS NOT NULL"
            ).fetchone()
        except sqlite3.OperationalError:  # not migrated yet
            return None
    return row[0] if row else None


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", "train", *args]


def test_trains_a_tiny_model_and_prints_its_name(tmp_path, tiny_model):
    data = tmp_path / "robot.jsonl"
    data.write_bytes(chat_jsonl(10))
    done = subprocess.run(
        command(
            str(data),
            "--backend",
            "local",
            "--base-model",
            TINY,
            "--epochs",
            "1",
            "--suffix",
            "robo",
            "--lora-rank",
            "4",
            "--seed",
            "7",
        ),
        cwd=tmp_path,
        env=environment(tmp_path, tiny_model, LANG="ja_JP.UTF-8"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    model = done.stdout.strip()
    assert model.startswith(f"ft:{TINY}:kobo:robo:"), done.stdout
    job_id = next(path.name for path in (tmp_path / "data" / "models").iterdir() if path.is_dir())
    saved = json.loads((tmp_path / "data" / "models" / job_id / "kobo-model.json").read_text())
    assert saved["model"] == model and saved["method"] == "lora"
    # Japanese from LANG: the estimate before, and the progress bar's steps on stderr.
    assert text("training.preview.throughput_reference", "ja") in done.stderr
    assert text("training.cli.started", "ja", job=job_id) in done.stderr
    assert "step" in done.stderr


def test_bad_data_is_named_by_line_and_ends_with_status_2(tmp_path, tiny_model):
    data = tmp_path / "bad.jsonl"
    lines = chat_jsonl(10).decode().splitlines()
    lines[3] = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        command(str(data), "--base-model", TINY, "--full", "--lora-rank", "999"),
        cwd=tmp_path,
        env=environment(tmp_path, tiny_model, LANG="en_US.UTF-8"),
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )
    assert done.returncode == 2, done.stderr
    assert "bad.jsonl line 4" in done.stderr
    assert "the LoRA rank must be a whole number 1..256, got 999" in done.stderr
    assert text("training.cli.fix_problems", "en") in done.stderr
    assert done.stdout == "" and not (tmp_path / "data" / "models").exists()


def test_ctrl_c_cancels_the_training(tmp_path, tiny_model):
    data = tmp_path / "robot.jsonl"
    data.write_bytes(chat_jsonl(10))
    process = subprocess.Popen(
        command(str(data), "--base-model", TINY, "--epochs", "50"),
        cwd=tmp_path,
        env=environment(tmp_path, tiny_model, LANG="en_US.UTF-8"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid = None
        for _ in range(2400):  # until the training process runs (its pid is recorded)
            pid = training_pid(tmp_path / "data" / "kobo.sqlite3")
            if pid is not None or process.poll() is not None:
                break
            time.sleep(0.1)
        assert pid is not None, process.communicate(timeout=PROCESS_SECONDS)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=PROCESS_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, err
    assert "Cancelling ftjob-" in err and "was cancelled" in err
    assert out == "" and "Traceback" not in err
    with contextlib.suppress(ProcessLookupError):  # killed with its job, and reaped
        os.kill(pid, 0)
        raise AssertionError(f"training process {pid} outlived the cancel")


async def run_train_command(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """The command run as a child process while this test's event loop serves the fake."""
    process = await asyncio.create_subprocess_exec(
        *command(*args),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def openai_environment(tmp_path: Path, tiny_model: Path, fake: FakeOpenAI, **more: str):
    return environment(
        tmp_path,
        tiny_model,
        OPENAI_API_KEY=fake.api_key,
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_MAX_RETRIES="0",
        **more,
    )


async def test_openai_no_longer_offering_fine_tuning_is_said_once_and_leaves_nothing(
    tmp_path, tiny_model
):
    data = tmp_path / "robot.jsonl"
    data.write_bytes(chat_jsonl(12))
    async with FakeOpenAI() as fake:
        fake.fine_tuning_withdrawn = True
        status, out, err = await run_train_command(
            str(data),
            "--backend",
            "openai",
            "--base-model",
            OPENAI_BASE,
            env=openai_environment(tmp_path, tiny_model, fake, KOBO_LANGUAGE="ja"),
            cwd=tmp_path,
        )
        assert status == 2, err
        assert [r.status for r in fake.calls("POST", "/v1/fine_tuning/jobs")] == [403]
        assert fake.calls("DELETE", "/v1/files") and fake.files == {}
    refusal = text("training.openai.fine_tuning_withdrawn", "ja")
    assert err.count(refusal) == 1 and "Traceback" not in err
    assert out == ""


async def test_openai_training_from_the_shell_prints_the_model(tmp_path, tiny_model):
    data = tmp_path / "robot.jsonl"
    data.write_bytes(chat_jsonl(12))
    async with FakeOpenAI() as fake:
        env = openai_environment(tmp_path, tiny_model, fake, LANG="en_US.UTF-8")
        run = asyncio.create_task(
            run_train_command(
                str(data), "--backend", "openai", "--suffix", "robo", env=env, cwd=tmp_path
            )
        )
        await fake.wait_for_request("/v1/fine_tuning/jobs/", within_s=120)  # it follows one
        (job_id,) = fake.jobs
        model = fake.succeed(job_id)
        status, out, err = await run
    assert status == 0, err
    assert out == f"{model}\n"
    created = fake.calls("POST", "/v1/fine_tuning/jobs")[0].body
    assert created["model"] == next(iter(default_model_table()))  # the table's first
    assert created["suffix"] == "robo"
    assert "on OpenAI: 12 examples × 8 epochs" in err


async def test_with_the_bot_running_its_trainer_the_command_trains_on_that_one(
    tmp_path, tiny_model
):
    """LOCAL_TRAINING is on by default, so the bot usually holds TRAINER_PORT: the command uses
    the trainer there (one trainer per database) instead of failing on the port."""
    from tests.bot.kobo_process import free_port

    env = environment(tmp_path, tiny_model, TRAINER_PORT=str(free_port()), KOBO_LANGUAGE="en")
    running = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trainer",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        while b"listening" not in (line := await asyncio.wait_for(
            running.stderr.readline(), PROCESS_SECONDS
        )):  # fmt: skip
            assert line, "the trainer ended before it listened"
        data = tmp_path / "robot.jsonl"
        data.write_bytes(chat_jsonl(10))
        status, out, err = await run_train_command(
            str(data), "--base-model", TINY, "--epochs", "1", "--lora-rank", "4",
            env=env, cwd=tmp_path,
        )  # fmt: skip
    finally:
        running.terminate()
        await asyncio.wait_for(running.communicate(), PROCESS_SECONDS)
    assert status == 0, err
    assert out.strip().startswith(f"ft:{TINY}:kobo:")
    url = f"http://127.0.0.1:{env['TRAINER_PORT']}"
    assert text("training.cli.using_running_trainer", "en", url=url) in err
