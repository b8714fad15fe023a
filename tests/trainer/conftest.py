"""Fixtures for the trainer tests: a tiny base model folder built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.trainer.tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base") / "model")


@pytest.fixture
def torch_threads() -> object:
    """The worker sets torch's thread count; give the test process its own back afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
