"""``python -m bot template OUT.xlsx``: the same workbook as /template, messages following LANG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from augment.template import template_xlsx
from i18n import text
from tests.augment.template_sheets import contents
from tests.ceilings import PROCESS_SECONDS

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KOBO_", "LC_", "LANG", "AUGMENT_"))
        },
        "PYTHONPATH": str(ROOT),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "template", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )


@pytest.mark.parametrize(
    ("env", "language"),
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "ja_JP.UTF-8", "KOBO_LANGUAGE": "en"}, "en"),
    ],
)
def test_writes_the_template_in_the_shells_language(tmp_path, env, language):
    result = run_cli("sheet.xlsx", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == text("template.cli.wrote", language, path="sheet.xlsx")
    assert contents((tmp_path / "sheet.xlsx").read_bytes()) == contents(template_xlsx(language))
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.xlsx"]  # no temporary file left


def test_language_chooses_the_workbooks_language_not_the_messages(tmp_path):
    result = run_cli("sheet.xlsx", "--language", "en", cwd=tmp_path, LANG="ja_JP.UTF-8")
    assert result.returncode == 0, result.stderr
    assert "を書き出しました" in result.stdout
    assert contents((tmp_path / "sheet.xlsx").read_bytes()) == contents(template_xlsx("en"))


def test_a_name_that_is_not_xlsx_is_refused(tmp_path):
    result = run_cli("sheet.csv", cwd=tmp_path, LANG="ja_JP.UTF-8")
    assert result.returncode == 2
    expected = text("template.cli.not_xlsx", "ja", path="sheet.csv")
    assert result.stderr.strip() == f"kobo template: {expected}"
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_place_is_reported_and_the_old_file_kept(tmp_path):
    (tmp_path / "sheet.xlsx").mkdir()  # a folder where the file should go
    result = run_cli("sheet.xlsx", cwd=tmp_path, LANG="C")
    assert result.returncode == 2
    assert result.stderr.startswith("kobo template: OUTPUT sheet.xlsx: not a regular file")
    assert "Traceback" not in result.stderr
    assert (tmp_path / "sheet.xlsx").is_dir()
    missing = run_cli("gone/sheet.xlsx", cwd=tmp_path, LANG="C")  # no such folder
    assert missing.returncode == 2
    assert missing.stderr.startswith("kobo template: cannot write gone/sheet.xlsx: ")
    assert "Traceback" not in missing.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.xlsx"]
