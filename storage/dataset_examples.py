"""Every example of every dataset, where each came from, and full-text search over them.

A dataset's examples are rows (one per line of its JSONL file) beside the file itself, written
in the same transaction as the dataset's row (storage.datasets). The trigram index
``dataset_examples_search`` follows inserts and deletes by triggers (migration 007), so search
never sees an example that is gone or misses one that is there.

Search takes words (what curation.search made of a query) and finds examples holding every one:
through the index when each word has at least three characters (a trigram needs three), by a
plain scan otherwise. Each word is quoted as an FTS5 string, so nothing typed is read as FTS5
syntax (``OR``, ``NEAR``, ``*``, ``"``, column filters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from storage.database import Database, escape_like

# A trigram index holds three-character pieces: shorter words cannot be looked up in it.
TRIGRAM = 3


@dataclass(frozen=True, slots=True)
class ExampleRecord:
    """One example as it is stored: its JSONL line, the text search reads, where it came from."""

    json: str
    text: str
    origin_line: int | None = None
    turn: int | None = None
    span_start: int | None = None
    span_end: int | None = None
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True, slots=True)
class StoredExample:
    dataset_id: int
    line: int
    record: ExampleRecord


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[StoredExample]
    total: int
    # False: a word was too short for the index, so every example was scanned.
    indexed: bool


EXAMPLE_COLUMNS = (
    "dataset_id, line, example, text, origin_line, turn, span_start, span_end, before, after"
)


def stored_example(row: aiosqlite.Row) -> StoredExample:
    return StoredExample(
        dataset_id=row["dataset_id"],
        line=row["line"],
        record=ExampleRecord(
            json=row["example"],
            text=row["text"],
            origin_line=row["origin_line"],
            turn=row["turn"],
            span_start=row["span_start"],
            span_end=row["span_end"],
            before=row["before"],
            after=row["after"],
        ),
    )


async def insert_examples(
    conn: aiosqlite.Connection, dataset_id: int, records: Sequence[ExampleRecord]
) -> None:
    """Inside the caller's transaction: ``records`` become lines 1, 2, ... of ``dataset_id``."""
    await conn.executemany(
        f"INSERT INTO dataset_examples ({EXAMPLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                dataset_id,
                line,
                r.json,
                r.text,
                r.origin_line,
                r.turn,
                r.span_start,
                r.span_end,
                r.before,
                r.after,
            )
            for line, r in enumerate(records, start=1)
        ],
    )


def fts5_phrase(word: str) -> str:
    """``word`` as an FTS5 string: quotes doubled, so it is matched as text and never as
    syntax."""
    return '"' + word.replace('"', '""') + '"'


class ExampleRepository:
    def __init__(self, db: Database):
        self._db = db

    async def page(self, dataset_id: int, *, offset: int, limit: int) -> list[StoredExample]:
        rows = await self._db.fetchall(
            f"SELECT {EXAMPLE_COLUMNS} FROM dataset_examples WHERE dataset_id = ?"
            " ORDER BY line LIMIT ? OFFSET ?",
            (dataset_id, limit, offset),
        )
        return [stored_example(row) for row in rows]

    async def all(self, dataset_id: int) -> list[StoredExample]:
        rows = await self._db.fetchall(
            f"SELECT {EXAMPLE_COLUMNS} FROM dataset_examples WHERE dataset_id = ? ORDER BY line",
            (dataset_id,),
        )
        return [stored_example(row) for row in rows]

    async def get(self, dataset_id: int, line: int) -> StoredExample | None:
        row = await self._db.fetchone(
            f"SELECT {EXAMPLE_COLUMNS} FROM dataset_examples WHERE dataset_id = ? AND line = ?",
            (dataset_id, line),
        )
        return stored_example(row) if row else None

    async def search(self, words: Sequence[str], *, offset: int, limit: int) -> SearchPage:
        """Examples whose text holds every word (case-insensitively), the most recently stored
        first (newest dataset first, and in it the last line first): the order the index keeps
        them in, so a page costs no sort of every hit (bench/datasets.py)."""
        if not words:
            return SearchPage([], 0, indexed=True)
        if all(len(word) >= TRIGRAM for word in words):
            match = " ".join(fts5_phrase(word) for word in words)
            total = await self._db.fetchone(
                "SELECT COUNT(*) AS n FROM dataset_examples_search"
                " WHERE dataset_examples_search MATCH ?",
                (match,),
            )
            rows = await self._db.fetchall(
                f"SELECT {EXAMPLE_COLUMNS} FROM (SELECT rowid FROM dataset_examples_search"
                " WHERE dataset_examples_search MATCH ? ORDER BY rowid DESC LIMIT ? OFFSET ?) hit"
                " JOIN dataset_examples ON dataset_examples.id = hit.rowid ORDER BY id DESC",
                (match, limit, offset),
            )
            return SearchPage([stored_example(row) for row in rows], total["n"], indexed=True)
        where = " AND ".join(["text LIKE ? ESCAPE '\\'"] * len(words))
        params = tuple(f"%{escape_like(word)}%" for word in words)
        total = await self._db.fetchone(
            f"SELECT COUNT(*) AS n FROM dataset_examples WHERE {where}", params
        )
        rows = await self._db.fetchall(
            f"SELECT {EXAMPLE_COLUMNS} FROM dataset_examples WHERE {where}"
            " ORDER BY id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return SearchPage([stored_example(row) for row in rows], total["n"], indexed=False)

    async def waiting_for_import(self) -> list[int]:
        """Datasets stored before kobo kept examples as rows (migration 007), oldest first."""
        rows = await self._db.fetchall(
            "SELECT dataset_id FROM datasets_to_import ORDER BY dataset_id"
        )
        return [row["dataset_id"] for row in rows]

    async def import_examples(self, dataset_id: int, records: Sequence[ExampleRecord]) -> bool:
        """Store the examples read from an older dataset's file, once: False when another
        import got there first."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                "DELETE FROM datasets_to_import WHERE dataset_id = ?", (dataset_id,)
            ) as cur:
                if cur.rowcount == 0:
                    return False
            await insert_examples(conn, dataset_id, records)
        return True
