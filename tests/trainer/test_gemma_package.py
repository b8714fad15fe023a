"""The pip-packaged Gemma 3 270M is converted once; later jobs find the folder and load it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.tiny_models import build_tiny_model
from trainer import gemma_package


def test_a_converted_folder_is_used_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    dest = build_tiny_model(tmp_path / "gemma-3-270m")
    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    # Not even the package is needed once the folder is there.
    monkeypatch.setattr(gemma_package, "PACKAGE", "gemma3_270m_not_installed_here")
    assert gemma_package.convert(dest) == dest
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before


def test_the_command_says_where_the_model_is(tmp_path: Path, capsys: pytest.CaptureFixture):
    dest = build_tiny_model(tmp_path / "gemma-3-270m")
    assert gemma_package.main([str(dest)]) == 0
    assert capsys.readouterr().out == f"Gemma 3 270M is already converted in {dest}\n"


def test_the_command_says_what_to_install_when_the_package_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(gemma_package, "PACKAGE", "gemma3_270m_not_installed_here")
    assert gemma_package.main([str(tmp_path / "gemma")]) == 1
    error = capsys.readouterr().err
    assert error.startswith(
        "error: Gemma 3 270M is not installed: pip install -c requirements.lock '.[gemma]'"
    )
    assert not (tmp_path / "gemma").exists()
