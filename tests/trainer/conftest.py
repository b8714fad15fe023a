"""Fixtures for the trainer tests: a tiny base model folder built once per test run, and the
trainer serving it on a real port with the ``openai`` SDK as its client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch
from openai import AsyncOpenAI

from config.settings import TrainerSettings
from storage.database import Database
from tests.built_once import built_once
from tests.trainer.service import client_for, trainer_settings
from tests.trainer.tiny_models import build_tiny_model
from trainer.server import TrainerHandle, start_trainer


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_once(
        tmp_path_factory, "tiny-base", lambda folder: build_tiny_model(folder / "model")
    )


@pytest.fixture
def torch_threads() -> object:
    """The worker sets torch's thread count; give the test process its own back afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def settings(tmp_path: Path, tiny_base: Path) -> TrainerSettings:
    return trainer_settings(tmp_path, tiny_base)


@pytest.fixture
async def trainer(settings: TrainerSettings, db: Database) -> AsyncIterator[TrainerHandle]:
    handle = await start_trainer(settings, db, poll_seconds=0.05)
    yield handle
    await handle.stop()


@pytest.fixture
async def client(trainer: TrainerHandle) -> AsyncIterator[AsyncOpenAI]:
    async with client_for(trainer.url) as sdk:
        yield sdk
