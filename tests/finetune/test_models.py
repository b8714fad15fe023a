from __future__ import annotations

import pytest

from finetune.models import ModelTableError, default_model_table, load_model_table


def test_defaults_cover_the_current_fine_tunable_models():
    table = default_model_table()
    assert list(table)[:2] == ["gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14"]
    mini = table["gpt-4o-mini-2024-07-18"]
    assert (mini.encoding, mini.max_tokens_per_example, mini.training_usd_per_1m_tokens) == (
        "o200k_base",
        65_536,
        3.00,
    )
    assert table["gpt-3.5-turbo-0125"].encoding == "cl100k_base"
    assert dict(load_model_table(None)) == dict(table)
    assert dict(load_model_table("  ")) == dict(table)


def test_unknown_models_name_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown base model 'gpt-5'; known models: gpt-4\.1-mini"):
        default_model_table()["gpt-5"]
    assert "gpt-5" not in default_model_table()


def test_inline_json_and_toml_settings():
    json_table = load_model_table(
        '{"models": {"my-model": {"encoding": "cl100k_base", "max_tokens_per_example": 4096,'
        ' "training_usd_per_1m_tokens": 2}}}'
    )
    assert json_table["my-model"].training_usd_per_1m_tokens == 2.0
    toml_table = load_model_table(
        '[models."gpt-4o-mini-2024-07-18"]\nencoding = "o200k_base"\n'
        "max_tokens_per_example = 65536\ntraining_usd_per_1m_tokens = 3.5\n"
    )
    assert list(toml_table) == ["gpt-4o-mini-2024-07-18"]


def test_a_table_file(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text(
        '[models.a]\nencoding = "o200k_base"\nmax_tokens_per_example = 10\n'
        "training_usd_per_1m_tokens = 1\n",
        encoding="utf-8",
    )
    assert load_model_table(str(path))["a"].max_tokens_per_example == 10
    with pytest.raises(ModelTableError, match=r"cannot read model table file .*missing\.json"):
        load_model_table(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{}", "needs a non-empty 'models' table"),
        ("{not json", "not valid JSON"),
        (
            '{"models": {"m": {"encoding": "p50k", "max_tokens_per_example": 1,'
            ' "training_usd_per_1m_tokens": 1}}}',
            "model 'm': field 'encoding' must be one of cl100k_base, o200k_base, got 'p50k'",
        ),
        (
            '{"models": {"m": {"encoding": "o200k_base", "max_tokens_per_example": 0,'
            ' "training_usd_per_1m_tokens": 1}}}',
            "model 'm': field 'max_tokens_per_example' must be a positive integer, got 0",
        ),
        (
            '{"models": {"m": {"encoding": "o200k_base", "max_tokens_per_example": 5,'
            ' "training_usd_per_1m_tokens": "cheap"}}}',
            "model 'm': field 'training_usd_per_1m_tokens' must be a number >= 0, got 'cheap'",
        ),
        (
            '{"models": {"m": {"encoding": "o200k_base", "max_tokens_per_example": 5,'
            ' "training_usd_per_1m_tokens": 1, "price": 2}}}',
            "model 'm': unknown field(s) price",
        ),
    ],
)
def test_bad_tables_name_the_model_and_field(setting, message):
    with pytest.raises(ModelTableError) as info:
        load_model_table(setting)
    assert message in str(info.value)


def test_the_training_price_of_tokens():
    mini = default_model_table()["gpt-4o-mini-2024-07-18"]  # $3 per 1M training tokens
    assert mini.training_usd(12_345) == pytest.approx(0.037035)
    assert mini.training_usd(0) == 0
