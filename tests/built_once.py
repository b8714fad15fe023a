"""Expensive test inputs (tiny models, their GGUF exports) built once per test run, even when
pytest-xdist runs the tests in several worker processes: the first worker to ask builds under a
file lock, the others wait for it and reuse what it left."""

from __future__ import annotations

import fcntl
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary folder, the same for every xdist worker (each has its own below)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if base.name.startswith("popen-gw") else base


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]
) -> T:
    """``build(folder)`` in this run's ``name`` folder the first time any worker asks; its
    (picklable) result is kept beside it for the others."""
    folder = run_folder(tmp_path_factory) / f"built-once-{name}"
    result = folder.with_suffix(".pickle")
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until the builder is done; released on close
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            value = build(folder)
            partial = result.with_suffix(".partial")
            partial.write_bytes(pickle.dumps(value))
            partial.rename(result)  # a build that failed half-way leaves no result behind
    return pickle.loads(result.read_bytes())
