"""The shipped relative defaults (DATA_DIR=data) work: every relative path in the settings is
read once against the working folder of the process that read them, and every process kobo
starts (the training worker runs in its job folder) is handed absolute paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import TrainerSettings
from tests.cogs.training.test_training_e2e import chat_jsonl
from tests.trainer.jobs import chat_examples, progress_lines, write_jsonl, write_spec
from tests.trainer.tiny_models import build_tiny_model
from trainer.base_models import GEMMA_3_270M, load_base_models
from trainer.worker import main as worker_main

ROOT = Path(__file__).resolve().parents[2]


def shipped_defaults_environment() -> dict[str, str]:
    """This environment without any kobo setting: the defaults apply, as .env.example ships."""
    kobo = ("DISCORD_", "OPENAI_", "TRAINER_", "KOBO_", "LOCAL_", "DATA_DIR", "DATABASE_PATH")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(kobo)},
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRAINER_PORT": "0",
        "TRAINER_NICENESS": "0",  # not a path; not starved by the other tests (tests/conftest.py)
    }


def test_the_packaged_gemma_trains_from_the_default_data_folder(tmp_path: Path):
    # The converted Gemma where `python -m trainer.gemma_package` puts it with DATA_DIR=data
    # (a tiny model in its place: the path is what is tested).
    build_tiny_model(tmp_path / "data" / "base-models" / GEMMA_3_270M)
    (tmp_path / "robot.jsonl").write_bytes(chat_jsonl(10))
    train = ["train", "robot.jsonl", "--backend", "local", "--base-model", GEMMA_3_270M]
    done = subprocess.run(
        [sys.executable, "-m", "bot", *train, "--epochs", "1", "--lora-rank", "4"],
        cwd=tmp_path,
        env=shipped_defaults_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    model = done.stdout.strip()
    assert model.startswith(f"ft:{GEMMA_3_270M}:kobo:"), done.stdout
    (saved,) = (tmp_path / "data" / "models").glob("*/kobo-model.json")
    description = json.loads(saved.read_text(encoding="utf-8"))
    assert description["model"] == model
    assert description["base_source"] == str(tmp_path / "data" / "base-models" / GEMMA_3_270M)
    assert (tmp_path / "data" / "kobo.sqlite3").is_file()


def test_relative_settings_are_read_against_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "models.toml").write_text(
        '[models."mine"]\nsource = "./mine"\n'
        '[models."deep"]\nsource = "base-models/deep/v1"\n'
        '[models."hub"]\nsource = "owner/name"\n',
        encoding="utf-8",
    )
    settings = TrainerSettings(
        _env_file=None,
        data_dir="data",
        database_path="db/kobo.sqlite3",
        local_base_models="conf/models.toml",
    )
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_path == tmp_path / "db" / "kobo.sqlite3"
    assert settings.local_base_models == str(tmp_path / "conf" / "models.toml")
    # Read at start by the process that read the settings: sources against the same folder.
    table = load_base_models(settings.local_base_models, data_dir=settings.data_dir)
    assert table["mine"].source == str(tmp_path / "mine")
    assert table["deep"].source == str(tmp_path / "base-models" / "deep" / "v1")
    assert table["mine"].is_local_folder and table["deep"].is_local_folder
    assert table["hub"].source == "owner/name" and not table["hub"].is_local_folder
    gemma = table[GEMMA_3_270M].source
    assert gemma == str(tmp_path / "data" / "base-models" / GEMMA_3_270M)


def test_a_relative_gemma_folder_without_its_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # A source that does not start with "/" is still a folder, not a Hugging Face id.
    monkeypatch.setattr("trainer.gemma_package.PACKAGE", "gemma3_270m_not_installed_here")
    monkeypatch.chdir(tmp_path)
    training = write_jsonl(tmp_path / "train.jsonl", chat_examples(4))
    relative = Path("data") / "base-models" / GEMMA_3_270M
    spec = write_spec(tmp_path / "job", base=relative, training_file=training)
    data = json.loads(spec.read_text())
    data["base_model"]["name"] = GEMMA_3_270M
    spec.write_text(json.dumps(data))
    assert worker_main([str(spec)]) == 1
    (line,) = progress_lines(spec.parent)
    assert line["type"] == "failed"
    assert line["error"].startswith(
        f"base model '{GEMMA_3_270M}': Gemma 3 270M is not installed:"
        " pip install -c requirements.lock '.[gemma]'"
    ), line["error"]
