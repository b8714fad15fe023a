from __future__ import annotations

import hashlib
import sqlite3
from pathlib import PurePosixPath

import pytest

from curation.records import records_from_jsonl
from storage.datasets import DatasetRepository

ONE = b'{"messages": []}\n'


async def add(repo: DatasetRepository, name: str, content: bytes = ONE, **more):
    return await repo.add(
        records_from_jsonl(content),
        name=name,
        source_file=name,
        method=more.pop("method", "duplicate"),
        operation=more.pop("operation", "augment"),
        by_id="1",
        by_name="a",
        **more,
    )


async def test_add_writes_the_file_and_a_row_that_points_at_it(db, tmp_path):
    repo = DatasetRepository(db, tmp_path / "data")
    content = '{"messages": []}\n{"messages": [{"role": "user", "content": "犬"}]}\n'.encode()
    dataset = await add(repo, "ロボット 1.xlsx", content, method="bert")
    assert dataset.example_count == 2 and dataset.operation == "augment"
    assert repo.file_path(dataset).read_bytes() == content
    assert dataset.sha256 == hashlib.sha256(content).hexdigest()
    assert dataset.path.startswith("datasets/") and dataset.path.endswith(".jsonl")
    assert await repo.get(dataset.id) == dataset
    assert [d.id for d in await repo.recent()] == [dataset.id]


async def test_recent_is_newest_first_and_searchable(db, tmp_path):
    repo = DatasetRepository(db, tmp_path / "data")
    ids = []
    for name in ("cats.csv", "dogs.csv", "100%_cats.csv"):
        ds = await add(repo, name)
        ids.append(ds.id)
    assert [d.id for d in await repo.recent()] == ids[::-1]
    assert [d.name for d in await repo.recent(search="cats")] == ["100%_cats.csv", "cats.csv"]
    # LIKE wildcards in what the user typed are taken literally.
    assert [d.name for d in await repo.recent(search="100%")] == ["100%_cats.csv"]
    assert [d.id for d in await repo.recent(search=str(ids[1]))] == [ids[1]]
    assert await repo.count() == 3


async def test_a_failed_insert_leaves_no_file_behind(db, tmp_path):
    repo = DatasetRepository(db, tmp_path / "data")
    with pytest.raises(sqlite3.IntegrityError):  # its parent does not exist
        await add(repo, "bad.csv", parents=[404])
    assert list((tmp_path / "data" / "datasets").iterdir()) == []
    assert await repo.count() == 0


async def test_start_up_removes_what_a_crash_left_and_keeps_stored_datasets(db, tmp_path):
    repo = DatasetRepository(db, tmp_path / "data")
    stored = await add(repo, "kept.csv")
    folder = tmp_path / "data" / "datasets"
    crash_leftovers = [
        "robot-0a1b2c3d.jsonl",  # written, then the process died before its row was inserted
        ".robot-0a1b2c3d.jsonl.89abcdef.tmp",  # died while writing
        "robot-0a1b2c3d.tmp",  # the same, from an earlier version
    ]
    not_ours = ["notes.txt", "mine.jsonl", "robot-0A1B2C3D.jsonl"]
    for name in crash_leftovers + not_ours:
        (folder / name).write_bytes(b"{}\n")

    assert await repo.remove_orphans() == sorted(crash_leftovers)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [PurePosixPath(stored.path).name, *not_ours]
    )
    assert repo.file_path(stored).read_bytes() == ONE
