"""``python -m bot datasets ...``: the bot's dataset store from a shell, messages following LANG."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation.records import records_from_jsonl
from curation.store import DatasetStore
from i18n import text
from storage.database import Database
from tests.ceilings import PROCESS_SECONDS
from tests.storage.test_dataset_examples import jsonl

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KOBO_", "LC_", "LANG", "DATABASE_", "DATA_"))
        },
        "PYTHONPATH": str(ROOT),
        "DATABASE_PATH": str(home / "kobo.sqlite3"),
        "DATA_DIR": str(home / "data"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "datasets", *args],
        cwd=home,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )


async def _store_two_datasets(home: Path) -> None:
    db = await Database.open(home / "kobo.sqlite3")
    try:
        store = DatasetStore.over(db, home / "data")
        for sentences in (("ペンギンは何を食べますか", "犬は好き？"), ("犬は好き？", "猫と遊ぼう")):
            await store.datasets.add(
                records_from_jsonl(jsonl(*sentences)),
                name="animals",
                source_file="animals.csv",
                method="duplicate",
                operation="augment",
                by_id="1",
                by_name="alice",
            )
    finally:
        await db.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    asyncio.run(_store_two_datasets(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("lang", "language"), [("ja_JP.UTF-8", "ja"), ("C.UTF-8", "en")])
def test_search_merge_show_and_export_over_the_bots_database(home, lang, language):
    found = run_cli("search", "ペンギ", home=home, LANG=lang)
    assert found.returncode == 0, found.stderr
    line = text("datacheck.line", language, line=1)
    assert found.stdout.splitlines() == [
        f"#1 {line}: ペンギンは何を食べますか うん",
        text("curation.cli.found", language, total=1, page=1, pages=1),
    ]

    merged = run_cli("merge", "1", "2", home=home, LANG=lang)
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.strip() == text(
        "curation.merge.done", language, sources="#1, #2", dataset=3, examples=3, duplicates=1
    )
    shown = run_cli("show", "3", home=home, LANG=lang)
    assert shown.returncode == 0, shown.stderr
    assert (
        "  "
        + text(
            "curation.lineage.merge",
            language,
            id=3,
            name="merge-1-2",
            parents="#1, #2",
            duplicates=1,
            examples=3,
        )
        in shown.stdout.splitlines()
    )

    exported = run_cli("export", "3", "--format", "csv", "-o", "out.csv", home=home, LANG=lang)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == text("curation.cli.wrote", language, path="out.csv")
    rows = list(csv.reader(io.StringIO((home / "out.csv").read_text(encoding="utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["ペンギンは何を食べますか", "犬は好き？", "猫と遊ぼう"]


def test_bad_requests_say_what_is_wrong_and_exit_2(home, tmp_path):
    missing = run_cli("export", "9", home=home, LANG="C.UTF-8")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "kobo datasets: " + text(
        "curation.no_dataset", "en", dataset=9
    )
    one = run_cli("merge", "1", home=home, LANG="C.UTF-8")
    assert one.returncode == 2 and text("curation.merge.too_few", "en") in one.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nothing = run_cli("search", "犬", home=elsewhere, LANG="C.UTF-8")
    assert nothing.returncode == 2
    assert text("curation.cli.no_database", "en", path=elsewhere / "kobo.sqlite3") in (
        nothing.stderr
    )
    assert not (elsewhere / "kobo.sqlite3").exists()  # no empty database left behind


@pytest.mark.parametrize(("lang", "language"), [("ja_JP.UTF-8", "ja"), ("C.UTF-8", "en")])
def test_list_shows_the_stored_datasets_newest_first(home, lang, language):
    listed = run_cli("list", home=home, LANG=lang)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines[:-1]] == ["#2", "#1"]
    when = lines[0].rsplit(" ", 1)[1]  # the time it was stored, as the database keeps it
    assert lines[0] == text(
        "shell.datasets.line",
        language,
        id=2,
        name="animals",
        examples=2,
        method="duplicate",
        by="alice",
        when=when,
    )
    assert lines[-1] == text("shell.datasets.footer", language, page=1, pages=1)
    beyond = run_cli("list", "--page", "3", home=home, LANG=lang)
    assert beyond.returncode == 0 and beyond.stdout.splitlines() == [
        text("shell.datasets.footer", language, page=3, pages=1)
    ]


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("show", str(2**63)), ("DATASET", str(2**63))),
        (("export", "99999999999999999999999999"), ("DATASET", "99999999999999999999999999")),
        (("merge", "1", "-5"), ("DATASET", "-5")),
        (("show", "1", "--page", str(2**64)), ("--page", str(2**64))),
        (("search", "犬", "--page", "0"), ("--page", "0")),
        (("list", "--page", "two"), ("--page", "two")),
    ],
)
def test_ids_and_pages_out_of_range_are_refused_without_a_traceback(home, args, shown):
    result = run_cli(*args, home=home, LANG="C.UTF-8")
    assert result.returncode == 2 and result.stdout == ""
    name, value = shown
    high = 1_000_000 if name == "--page" else 2**63 - 1
    assert result.stderr.strip() == "kobo datasets: " + text(
        "shell.not_a_whole_number", "en", name=name, value=value[:40], low=1, high=high
    )


def test_arguments_that_are_not_utf8_are_refused_without_a_traceback(home):
    undecodable = os.fsdecode(b"\xff\xfe")  # what Python makes of such bytes in argv
    for args in (("search", undecodable), ("export", "1", "-o", undecodable + ".csv")):
        result = run_cli(*args, home=home, LANG="C.UTF-8")
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == "kobo: " + text(
            "shell.argument_not_utf8", "en", argument="\\xff\\xfe" + args[-1][2:]
        )
    assert sorted(p.name for p in home.iterdir()) == ["data", "kobo.sqlite3"]
