"""No command that writes a file can destroy kobo's data with a mistyped output: not the
database, not a stored dataset, not an input, not a FIFO or a device node (nor a link to any of
them). Each is refused with a message naming the path and why, exit 2, and nothing written."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from curation.records import records_from_jsonl
from curation.store import DatasetStore
from i18n import text
from storage.database import Database
from storage.outputs import Protected, UnsafeOutput, safe_targets, write_outputs
from tests.storage.test_dataset_examples import jsonl

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = "user,assistant\nペンギンは何を食べますか,魚です\n犬は好き？,好きです\n"


def run_cli(*args: str, home: Path, lang: str = "C.UTF-8") -> subprocess.CompletedProcess:
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KOBO_", "LC_", "LANG", "DATABASE_", "DATA_", "DISCORD_"))
        },
        "PYTHONPATH": str(ROOT),
        "DATABASE_PATH": str(home / "kobo.sqlite3"),
        "DATA_DIR": str(home / "data"),
        "LANG": lang,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=home,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _store_a_dataset(home: Path) -> Path:
    db = await Database.open(home / "kobo.sqlite3")
    try:
        store = DatasetStore.over(db, home / "data")
        dataset = await store.datasets.add(
            records_from_jsonl(jsonl("ペンギンは何を食べますか", "犬は好き？")),
            name="animals",
            source_file="animals.csv",
            method="duplicate",
            operation="augment",
            by_id="1",
            by_name="alice",
        )
        return store.datasets.file_path(dataset)
    finally:
        await db.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    tmp_path.joinpath("stored-path").write_text(
        str(asyncio.run(_store_a_dataset(tmp_path))), encoding="utf-8"
    )
    (tmp_path / "q.csv").write_text(QUESTIONS, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.xlsx")
    (tmp_path / "db-link.xlsx").symlink_to(tmp_path / "kobo.sqlite3")
    return tmp_path


def stored_file(home: Path) -> Path:
    return Path(home.joinpath("stored-path").read_text(encoding="utf-8"))


def snapshot(home: Path) -> dict[str, object]:
    """Every entry under ``home``: its kind and, for files, its bytes."""
    found: dict[str, object] = {}
    for path in sorted(home.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            found[str(path)] = ("link", os.readlink(path))
        elif stat.S_ISREG(mode):
            found[str(path)] = path.read_bytes()
        else:
            found[str(path)] = stat.S_IFMT(mode)
    return found


def refusals(home: Path) -> list[tuple[tuple[str, ...], str]]:
    """Each command that writes, pointed at something it must not replace, and the message."""
    db = home / "kobo.sqlite3"
    data = home / "data"
    stored = stored_file(home)

    def database(flag: str, path: str) -> str:
        return text("shell.output.database", "en", flag=flag, path=path, database=str(db))

    def in_data(flag: str, path: str) -> str:
        return text("shell.output.data_dir", "en", flag=flag, path=path, data_dir=str(data))

    def not_a_file(flag: str, path: str) -> str:
        return text("shell.output.not_a_file", "en", flag=flag, path=path)

    return [
        # The bug report: the database became a spreadsheet.
        (("datasets", "export", "1", "--format", "xlsx", "-o", str(db)), database("-o", str(db))),
        (("datasets", "export", "1", "-o", "db-link.xlsx"), database("-o", "db-link.xlsx")),
        (("datasets", "export", "1", "-o", "kobo.sqlite3-wal"), database("-o", "kobo.sqlite3-wal")),
        # A stored dataset's own file replaced training data.
        (
            ("datasets", "export", "1", "--format", "jsonl", "-o", str(stored)),
            in_data("-o", str(stored)),
        ),
        (("datasets", "export", "1", "-o", "pipe.xlsx"), not_a_file("-o", "pipe.xlsx")),
        (("datasets", "export", "1", "-o", "."), not_a_file("-o", ".")),
        (("template", "pipe.xlsx"), not_a_file("OUTPUT", "pipe.xlsx")),
        (("template", "db-link.xlsx"), database("OUTPUT", "db-link.xlsx")),
        (("template", "data/new.xlsx"), in_data("OUTPUT", "data/new.xlsx")),
        (("augment", "q.csv", "-o", str(db)), database("-o", str(db))),
        (
            ("augment", "q.csv", "-o", "out.jsonl", "--review", "db-link.xlsx"),
            database("--review", "db-link.xlsx"),
        ),
        (("augment", "q.csv", "-o", str(stored)), in_data("-o", str(stored))),
        (("augment", "q.csv", "--review", "pipe.xlsx"), not_a_file("--review", "pipe.xlsx")),
    ]


def test_every_command_refuses_outputs_that_would_destroy_data(home):
    before = snapshot(home)
    for args, message in refusals(home):
        result = run_cli(*args, home=home)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == "", args
        assert "Traceback" not in result.stderr
        assert snapshot(home) == before, args  # nothing written, no temporary file left
    assert stat.S_ISFIFO((home / "pipe.xlsx").lstat().st_mode)


def test_refusals_are_in_japanese_for_a_japanese_shell(home):
    result = run_cli("datasets", "export", "1", "-o", "db-link.xlsx", home=home, lang="ja_JP.UTF-8")
    assert result.returncode == 2
    assert result.stderr.strip() == "kobo datasets: " + text(
        "shell.output.database",
        "ja",
        flag="-o",
        path="db-link.xlsx",
        database=str(home / "kobo.sqlite3"),
    )


def test_outputs_elsewhere_are_still_written(home):
    exported = run_cli("datasets", "export", "1", "--format", "jsonl", "-o", "ok.jsonl", home=home)
    assert exported.returncode == 0, exported.stderr
    assert (home / "ok.jsonl").read_bytes() == stored_file(home).read_bytes()
    template = run_cli("template", "sheet.xlsx", home=home)
    assert template.returncode == 0, template.stderr
    assert (home / "sheet.xlsx").read_bytes()[:2] == b"PK"


# --- the guard itself (storage.outputs), for what a subprocess test cannot set up ----------


def test_a_hard_link_to_the_database_or_an_input_is_refused(tmp_path):
    db = tmp_path / "kobo.sqlite3"
    db.write_bytes(b"SQLite format 3\x00")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(QUESTIONS, encoding="utf-8")
    os.link(db, tmp_path / "db-copy.xlsx")
    os.link(sheet, tmp_path / "sheet-copy.jsonl")
    protected = Protected(database=db, data_dir=tmp_path / "data", inputs={"sheet.csv": sheet})
    with pytest.raises(UnsafeOutput) as refused:
        safe_targets({"-o": tmp_path / "db-copy.xlsx"}, protected)
    assert refused.value.message.key == "shell.output.database"
    with pytest.raises(UnsafeOutput) as refused:
        safe_targets({"-o": tmp_path / "sheet-copy.jsonl"}, protected)
    assert refused.value.message.key == "shell.output.input"


def test_two_outputs_naming_one_file_are_refused(tmp_path):
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    with pytest.raises(UnsafeOutput) as refused:
        write_outputs(
            {"-o": (tmp_path / "b.jsonl", b"one"), "--review": (tmp_path / "a.jsonl", b"two")},
            Protected(),
        )
    assert str(refused.value) == text(
        "shell.output.same_file", "en", flag="--review", path=str(tmp_path / "a.jsonl"), other="-o"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "a.jsonl"]


def test_writing_through_a_link_updates_the_file_it_names(tmp_path):
    (tmp_path / "real.xlsx").write_bytes(b"old")
    (tmp_path / "link.xlsx").symlink_to("real.xlsx")
    write_outputs({"-o": (tmp_path / "link.xlsx", b"new")}, Protected())
    assert (tmp_path / "link.xlsx").is_symlink()
    assert (tmp_path / "real.xlsx").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.xlsx", "real.xlsx"]
