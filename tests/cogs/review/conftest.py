"""A dataset to review: /augment with bert on the tiny rigged BERT (tests/cogs/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def kobo_settings(kobo_settings, rigged_model_dir):
    return kobo_settings.model_copy(update={"augment_model": str(rigged_model_dir)})
