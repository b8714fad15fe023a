"""The trainer as the tests run it: real settings, a real port, the real ``openai`` SDK."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI
from openai.types.fine_tuning import FineTuningJob
from pydantic import SecretStr

from config.settings import TrainerSettings
from tests.openapi.clients import openai_client
from tests.trainer.jobs import chat_examples
from tests.trainer.tiny_models import base_models_setting

TOKEN = "trainer-test-token"
TINY = "tiny"
FINISHED = ("succeeded", "failed", "cancelled")


def trainer_settings(tmp_path: Path, tiny_base: Path, **overrides: Any) -> TrainerSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_path": tmp_path / "kobo.sqlite3",
        "trainer_host": "127.0.0.1",
        "trainer_port": 0,
        "trainer_token": SecretStr(TOKEN),
        "local_base_models": base_models_setting(TINY, tiny_base),
        "trainer_device": "cpu",
    }
    values.update(overrides)
    # Explicit values win over the environment; _env_file=None ignores a developer's .env.
    return TrainerSettings(_env_file=None, **values)


def client_for(url: str, token: str = TOKEN) -> AsyncOpenAI:
    """The real SDK; every answer is checked against OpenAI's schema (tests/openapi)."""
    return openai_client(f"{url}/v1", token, max_retries=0, timeout=30)


def jsonl(examples: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples).encode()


async def upload(client: AsyncOpenAI, content: bytes | None = None, name: str = "train.jsonl"):
    content = jsonl(chat_examples(12)) if content is None else content
    return await client.files.create(file=(name, content, "application/jsonl"), purpose="fine-tune")


async def create_job(
    client: AsyncOpenAI, training_file: str, *, model: str = TINY, **hyperparameters: Any
) -> FineTuningJob:
    hyper = {"n_epochs": 2, "batch_size": 4, "lora_rank": 4, "learning_rate": 1e-2}
    hyper.update(hyperparameters)
    return await client.fine_tuning.jobs.create(
        model=model,
        training_file=training_file,
        suffix="robot",
        seed=7,
        method={"type": "supervised", "supervised": {"hyperparameters": hyper}},
    )


async def wait_for_status(
    client: AsyncOpenAI, job_id: str, statuses: tuple[str, ...] = FINISHED, within: float = 180
) -> FineTuningJob:
    deadline = time.monotonic() + within
    while True:
        job = await client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        if job.status in FINISHED or time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job.status}, not {statuses}: {job.error}")
        await asyncio.sleep(0.1)


async def all_events(client: AsyncOpenAI, job_id: str) -> list[Any]:
    """Every event, newest first, paged as the SDK pages."""
    return [event async for event in client.fine_tuning.jobs.list_events(job_id, limit=7)]
