from __future__ import annotations

from pathlib import Path

import pytest

from augment.fill_mask import FillMaskModel, load_fill_mask
from tests.augment.models import build_model, english_tokenizer, japanese_tokenizer

# Predictions, best first, of the rigged models: specials, punctuation, a word piece and the
# masked noun itself must all be turned down before the real words.
JAPANESE_RIGGED = ["[UNK]", "。", "##ル", "犬", "[CLS]", "猫", "鳥", "魚", "花"]
ENGLISH_RIGGED = ["[UNK]", ".", "##ing", "cat", "[MASK]", "dog", "bird", "fish", "robot"]


@pytest.fixture(scope="session")
def japanese_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ja-random")
    return build_model(directory, japanese_tokenizer(directory), seed=1)


@pytest.fixture(scope="session")
def english_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("en-random")
    return build_model(directory, english_tokenizer(directory), seed=2)


@pytest.fixture(scope="session")
def rigged_japanese(tmp_path_factory: pytest.TempPathFactory) -> FillMaskModel:
    directory = tmp_path_factory.mktemp("ja-rigged")
    build_model(directory, japanese_tokenizer(directory), rigged=JAPANESE_RIGGED)
    return load_fill_mask(str(directory), batch_size=4)


@pytest.fixture(scope="session")
def rigged_english(tmp_path_factory: pytest.TempPathFactory) -> FillMaskModel:
    directory = tmp_path_factory.mktemp("en-rigged")
    build_model(directory, english_tokenizer(directory), rigged=ENGLISH_RIGGED)
    return load_fill_mask(str(directory), batch_size=4)
