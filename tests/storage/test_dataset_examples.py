"""Examples as rows: the trigram index in step with them, datasets stored before them imported
once, and review decisions that a race decides once."""

from __future__ import annotations

import asyncio
import json
import shutil
from importlib import resources

from curation.imports import import_older_datasets
from curation.records import records_from_jsonl
from curation.store import DatasetStore
from storage.database import Database


def jsonl(*sentences: str) -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": s},
                    {"role": "assistant", "content": "うん"},
                ]
            },
            ensure_ascii=False,
        )
        for s in sentences
    ]
    return ("\n".join(lines) + "\n").encode()


async def add(store: DatasetStore, *sentences: str):
    return await store.datasets.add(
        records_from_jsonl(jsonl(*sentences)),
        name="animals",
        source_file="animals.csv",
        method="duplicate",
        operation="augment",
        by_id="1",
        by_name="alice",
    )


async def found(store: DatasetStore, *words: str) -> list[tuple[int, int]]:
    page = await store.examples.search(list(words), offset=0, limit=50)
    hits = [(hit.dataset_id, hit.line) for hit in page.hits]
    assert page.total == len(hits)  # the count comes from the index alone
    return hits


async def test_the_index_follows_inserts_and_deletes(db, tmp_path):
    store = DatasetStore.over(db, tmp_path)
    first = await add(store, "ペンギンは何を食べますか", "犬は好き？")
    second = await add(store, "ペンギンと泳ぎたい")
    assert await found(store, "ペンギ") == [(second.id, 1), (first.id, 1)]
    assert await found(store, "ペンギン", "食べ") == [(first.id, 1)]
    # Deleting a dataset deletes its examples (cascade), and the triggers take them out of the
    # index: a search never finds an example that is gone.
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM datasets WHERE id = ?", (second.id,))
    assert await found(store, "ペンギ") == [(first.id, 1)]
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM dataset_examples WHERE dataset_id = ?", (first.id,))
    assert await found(store, "ペンギ") == []


async def test_datasets_stored_before_examples_were_rows_are_imported_once(
    tmp_path, migrations, monkeypatch
):
    # A database as kobo left it before migration 007: a dataset row and its file.
    shipped = resources.files("storage.migrations")
    for number in ("001", "002", "003", "004"):
        (entry,) = [e for e in shipped.iterdir() if e.name.startswith(number)]
        shutil.copy(str(entry), migrations / entry.name)
    data_dir = tmp_path / "data"
    (data_dir / "datasets").mkdir(parents=True)
    (data_dir / "datasets" / "old-0a1b2c3d.jsonl").write_bytes(jsonl("ペンギンは何を食べますか"))
    db = await Database.open(tmp_path / "kobo.sqlite3")
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO datasets (name, path, sha256, example_count, source_file, method,"
            " created_by, created_by_name, created_at) VALUES ('old', ?, 'x', 1, 'old.csv',"
            " 'bert', '1', 'alice', '2025-01-01T00:00:00+00:00')",
            ("datasets/old-0a1b2c3d.jsonl",),
        )
    await db.close()

    monkeypatch.setattr("storage.database.MIGRATIONS_PACKAGE", "storage.migrations")
    db = await Database.open(tmp_path / "kobo.sqlite3")
    try:
        store = DatasetStore.over(db, data_dir)
        old = await store.datasets.get(1)
        assert old.operation == "augment" and await store.datasets.lineage(1)
        # Two starts at once (the bot and the CLI): the examples are imported once.
        results = await asyncio.gather(import_older_datasets(store), import_older_datasets(store))
        assert sorted(results) == [0, 1]
        assert await import_older_datasets(store) == 0
        assert await found(store, "ペンギ") == [(1, 1)]
        assert [e.line for e in await store.examples.all(1)] == [1]
    finally:
        await db.close()


async def test_a_race_decides_an_example_once_and_everyone_reads_who(db, tmp_path):
    store = DatasetStore.over(db, tmp_path)
    dataset = await add(store, "ペンギンは何を食べますか")
    # An augmented example: made from line 1.
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE dataset_examples SET origin_line = 1 WHERE dataset_id = ?", (dataset.id,)
        )
    outcomes = await asyncio.gather(
        *(
            store.reviews.decide(
                dataset.id, 1, "keep" if n % 2 else "drop", edited_text=None,
                by_id=str(n), by_name=f"reviewer {n}",
            )
            for n in range(8)
        )
    )  # fmt: skip
    winners = [decision for decision, recorded in outcomes if recorded]
    assert len(winners) == 1
    assert {decision for decision, _ in outcomes} == {winners[0]}
    assert (await store.reviews.tally(dataset.id)).by_person == [(winners[0].decided_by_name, 1)]
    # A line that is no augmented example cannot be decided.
    assert await store.reviews.decide(
        dataset.id, 9, "keep", edited_text=None, by_id="1", by_name="a"
    ) == (None, False)
