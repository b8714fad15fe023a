"""A dataset to review: /augment with bert on a tiny BERT built by the tests."""

from __future__ import annotations

import pytest

from tests.augment.conftest import JAPANESE_RIGGED
from tests.augment.models import build_model, japanese_tokenizer


@pytest.fixture(scope="module")
def rigged_model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ja-rigged-review")
    return build_model(directory, japanese_tokenizer(directory), rigged=JAPANESE_RIGGED)


@pytest.fixture
def kobo_settings(kobo_settings, rigged_model_dir):
    return kobo_settings.model_copy(update={"augment_model": str(rigged_model_dir)})
