"""The local base-model table and its setting (LOCAL_BASE_MODELS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robots.model_ids import validate_model_id
from tests.trainer.tiny_models import base_models_setting
from trainer.base_models import (
    GEMMA_CHAT_TEMPLATE,
    BaseModelTableError,
    gemma_folder,
    load_base_models,
)

DATA = Path("/srv/kobo")


def test_the_defaults_are_lfm2_for_hosts_with_internet_and_the_packaged_gemma():
    table = load_base_models(None, data_dir=DATA)
    assert list(table) == ["lfm2-350m", "gemma-3-270m"]
    assert table["lfm2-350m"].source == "LiquidAI/LFM2-350M"
    assert table["lfm2-350m"].chat_template is None  # LFM2's tokenizer has its own
    gemma = table["gemma-3-270m"]
    assert gemma.source == str(gemma_folder(DATA)) == "/srv/kobo/base-models/gemma-3-270m"
    assert gemma.chat_template == GEMMA_CHAT_TEMPLATE and "Gemma" in gemma.licence
    for model in table.values():
        assert model.parameters and model.reference_chars_per_second
        assert model.reference_peak_memory_bytes
        # Base names go into fine-tuned model names, which robots must accept.
        validate_model_id(f"ft:{model.name}:kobo:cats:0123abcd")


def test_the_setting_adds_models_and_replaces_fields_of_known_ones(tmp_path: Path):
    setting = {
        "models": {
            "tiny": {"source": str(tmp_path), "licence": "MIT"},
            "gemma-3-270m": {"source": "/opt/gemma", "reference_chars_per_second": 250},
        }
    }
    table = load_base_models(json.dumps(setting), data_dir=DATA)
    assert list(table) == ["lfm2-350m", "gemma-3-270m", "tiny"]
    assert table["tiny"].source == str(tmp_path) and table["tiny"].is_local_folder
    assert table["tiny"].chat_template is None and table["tiny"].parameters is None
    gemma = table["gemma-3-270m"]
    assert gemma.source == "/opt/gemma" and gemma.reference_chars_per_second == 250.0
    assert gemma.chat_template == GEMMA_CHAT_TEMPLATE  # kept


def test_the_setting_can_be_a_toml_file(tmp_path: Path):
    path = tmp_path / "models.toml"
    path.write_text('[models."smol"]\nsource = "HuggingFaceTB/SmolLM2-135M-Instruct"\n')
    table = load_base_models(str(path), data_dir=DATA)
    assert table["smol"].source == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert not table["smol"].is_local_folder


def test_the_test_helper_setting_loads(tmp_path: Path):
    table = load_base_models(base_models_setting("tiny", tmp_path), data_dir=DATA)
    assert table["tiny"].parameters == 60_000


@pytest.mark.parametrize(
    ("models", "error"),
    [
        ({"new": {"licence": "MIT"}}, "model 'new': field 'source' is required for a new model"),
        (
            {"x": {"source": " "}},
            "model 'x': field 'source' must be a Hugging Face id",
        ),
        ({"x": {"source": "/m", "parameters": -3}}, "model 'x': field 'parameters' must be"),
        (
            {"x": {"source": "/m", "reference_chars_per_second": True}},
            "model 'x': field 'reference_chars_per_second' must be a number > 0",
        ),
        ({"x": {"source": "/m", "chat_template": ""}}, "model 'x': field 'chat_template'"),
        ({"x": {"source": "/m", "colour": "red"}}, "model 'x': unknown field(s) colour"),
        ({"Has Space": {"source": "/m"}}, "model 'Has Space': names are"),
        ({"a/b": {"source": "/m"}}, "model 'a/b': names are"),
    ],
)
def test_a_bad_entry_names_the_model_and_the_field(models, error):
    with pytest.raises(BaseModelTableError) as raised:
        load_base_models(json.dumps({"models": models}), data_dir=DATA)
    assert str(raised.value).startswith("LOCAL_BASE_MODELS: ")
    assert error in str(raised.value)


def test_unreadable_settings_say_why(tmp_path: Path):
    with pytest.raises(BaseModelTableError, match="cannot read local base model file"):
        load_base_models(str(tmp_path / "missing.json"), data_dir=DATA)
    with pytest.raises(BaseModelTableError, match="not valid JSON"):
        load_base_models('{"models": ', data_dir=DATA)
    with pytest.raises(BaseModelTableError, match="needs a non-empty 'models' table"):
        load_base_models("{}", data_dir=DATA)
