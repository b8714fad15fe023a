"""Fixtures for the cogs' end-to-end tests."""

from __future__ import annotations

import pytest

from tests.augment.conftest import JAPANESE_RIGGED
from tests.augment.models import build_model, japanese_tokenizer
from tests.conftest import DISCORD_LOCALES


@pytest.fixture(params=["ja", "en"])
def language(request, workshop):
    """The volunteer's and the server's language; set before kobo connects, as Discord reports
    the server's then."""
    workshop.guild.locale = DISCORD_LOCALES[request.param]
    return request.param


@pytest.fixture(scope="module")
def rigged_model_dir(tmp_path_factory):
    """A tiny Japanese BERT whose predictions are rigged: bert augmentation replaces nouns with
    犬, 猫, 鳥, 魚 or 花. Point AUGMENT_MODEL at it to /augment with bert."""
    directory = tmp_path_factory.mktemp("ja-rigged-e2e")
    return build_model(directory, japanese_tokenizer(directory), rigged=JAPANESE_RIGGED)
