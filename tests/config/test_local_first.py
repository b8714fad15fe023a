"""Local first: kobo's own trainer is on unless set off, and what staff read says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import Settings
from config.settings import TrainCommandSettings
from tests.config.test_docs import READMES, SETTINGS_HEADING, section

ROOT = Path(__file__).resolve().parents[2]
OPENAI_DATES = ("2026-05-07", "2026-07-02", "2027-01-06")


def test_local_training_is_on_unless_set_off(monkeypatch):
    monkeypatch.delenv("LOCAL_TRAINING", raising=False)
    assert Settings(_env_file=None, discord_token="x").local_training is True
    monkeypatch.setenv("LOCAL_TRAINING", "false")
    assert Settings(_env_file=None, discord_token="x").local_training is False


def test_the_train_command_reads_openais_settings_for_backend_openai(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = TrainCommandSettings(_env_file=None)
    assert settings.openai_api_key.get_secret_value() == "sk-test"
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize("readme", READMES)
def test_the_settings_tables_give_the_default(readme):
    table = section(readme, SETTINGS_HEADING[readme])
    row = re.search(r"^\| `LOCAL_TRAINING` \| `(\w+)` \|", table, flags=re.MULTILINE)
    assert row and row.group(1) == "true"


def test_env_example_ships_local_training_on():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.findall(r"^LOCAL_TRAINING=(\w+)$", text, flags=re.MULTILINE) == ["true"]


@pytest.mark.parametrize(
    ("readme", "heading"), [("README.md", "Training"), ("README.ja.md", "学習")]
)
def test_the_training_sections_start_local_and_say_what_openai_changed(readme, heading):
    text = section(readme, heading)
    first_example = re.search(r"```\n(/train .+)\n", text).group(1)
    assert "backend:openai" not in first_example and "gpt-" not in first_example
    for date in OPENAI_DATES:
        assert date in text
    assert "backend:openai" in text and "403" in text
