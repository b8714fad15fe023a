"""Fixtures for the storage tests."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


@pytest.fixture
def migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away migrations package the runner reads instead of storage.migrations."""
    name = f"kobo_test_migrations_{uuid.uuid4().hex}"
    package = tmp_path / "packages" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "packages"))
    monkeypatch.setattr("storage.database.MIGRATIONS_PACKAGE", name)
    return package
