"""Fixtures for the trainer tests: a tiny base model folder built once per test run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.built_once import built_once
from tests.trainer.tiny_models import build_tiny_model


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
