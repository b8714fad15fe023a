"""Stored datasets: the JSONL file under the data directory, a row describing it, its lineage
(parents and the operation that made it) and its examples (storage.dataset_examples).

The file is written to a temporary name, flushed to disk and renamed before the row is
inserted, and removed again if the insert fails: a row never points at a missing or partial
file. The row, its parents and its examples go in one transaction, so search and review see a
dataset whole or not at all. A crash can still leave a ``.tmp`` file, or a file whose row was
never inserted: ``remove_orphans`` deletes those at start-up.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import aiosqlite

from storage.database import Database, escape_like, utc_now
from storage.dataset_examples import ExampleRecord, insert_examples
from storage.files import write_atomically

DATASETS_SUBDIR = "datasets"
# The names this module gives: "<safe stem>-<8 hex>.jsonl" (see add), the temporary files
# storage.files makes for them, and the "<stem>-<8 hex>.tmp" of earlier versions.
DATASET_FILE = re.compile(r"[A-Za-z0-9_-]+-[0-9a-f]{8}\.jsonl")
TEMPORARY_FILE = re.compile(r"\.?[A-Za-z0-9_-]+-[0-9a-f]{8}(\.jsonl\.[0-9a-f]{8})?\.tmp")

log = logging.getLogger(__name__)

Operation = Literal["augment", "review", "merge", "upload"]
# How far /datasets show follows parents back; a deeper history is cut with a note.
LINEAGE_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Dataset:
    id: int
    name: str
    path: str
    sha256: str
    example_count: int
    source_file: str
    method: str
    created_by: str
    created_by_name: str
    created_at: str
    operation: str = "augment"
    # What the operation did: a review's counts, a merge's duplicates removed.
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ancestor:
    """One dataset of a lineage, with the ids of its own parents."""

    dataset: Dataset
    parents: tuple[int, ...]


def _dataset(row: aiosqlite.Row) -> Dataset:
    values = dict(row)
    values["details"] = json.loads(values["details"])
    return Dataset(**values)


def _safe_stem(filename: str) -> str:
    stem = Path(filename).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:40] or "dataset"


class DatasetRepository:
    def __init__(self, db: Database, data_dir: Path):
        self._db = db
        self._data_dir = data_dir

    def file_path(self, dataset: Dataset) -> Path:
        return self._data_dir / dataset.path

    async def add(
        self,
        examples: Sequence[ExampleRecord],
        *,
        name: str,
        source_file: str,
        method: str,
        operation: Operation,
        by_id: str,
        by_name: str,
        parents: Sequence[int] = (),
        details: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Store ``examples`` as a new dataset: the file is their JSONL lines in order."""
        dataset, _ = await self._add(
            examples, name, source_file, method, operation, by_id, by_name, parents, details,
            reuse_identical=False,
        )  # fmt: skip
        return dataset

    async def add_unless_stored(
        self,
        examples: Sequence[ExampleRecord],
        *,
        name: str,
        source_file: str,
        method: str,
        operation: Operation,
        by_id: str,
        by_name: str,
        parents: Sequence[int] = (),
        details: Mapping[str, Any] | None = None,
    ) -> tuple[Dataset, bool]:
        """:meth:`add`, unless a dataset with the same operation, parents and content exists:
        then that one, and False. Two people finishing the same review at once get one dataset.
        """
        return await self._add(
            examples, name, source_file, method, operation, by_id, by_name, parents, details,
            reuse_identical=True,
        )  # fmt: skip

    async def _add(
        self,
        examples: Sequence[ExampleRecord],
        name: str,
        source_file: str,
        method: str,
        operation: Operation,
        by_id: str,
        by_name: str,
        parents: Sequence[int],
        details: Mapping[str, Any] | None,
        *,
        reuse_identical: bool,
    ) -> tuple[Dataset, bool]:
        content = "".join(record.json + "\n" for record in examples).encode("utf-8")
        folder = self._data_dir / DATASETS_SUBDIR
        relative = (
            Path(DATASETS_SUBDIR) / f"{_safe_stem(name)}-{secrets.token_hex(4)}.jsonl"
        ).as_posix()
        target = self._data_dir / relative
        # File I/O and hashing of a few MB would stall the event loop: do them in a thread.
        digest = await asyncio.to_thread(_write_atomically, folder, target, content)
        try:
            async with self._db.transaction() as conn:
                if reuse_identical:
                    same = await _identical(conn, digest, operation, parents)
                    if same is not None:
                        target.unlink(missing_ok=True)
                        return same, False
                async with conn.execute(
                    "INSERT INTO datasets (name, path, sha256, example_count, source_file, method,"
                    " created_by, created_by_name, created_at, operation, details)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                    (
                        name,
                        relative,
                        digest,
                        len(examples),
                        source_file,
                        method,
                        by_id,
                        by_name,
                        utc_now(),
                        operation,
                        json.dumps(dict(details or {}), ensure_ascii=False),
                    ),
                ) as cur:
                    row = await cur.fetchone()
                dataset = _dataset(row)
                await conn.executemany(
                    "INSERT INTO dataset_parents (dataset_id, parent_id, position)"
                    " VALUES (?, ?, ?)",
                    [(dataset.id, parent, position) for position, parent in enumerate(parents, 1)],
                )
                await insert_examples(conn, dataset.id, examples)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return dataset, True

    async def remove_orphans(self) -> list[str]:
        """Delete kobo's own files in the datasets folder that no row points at (left by a crash
        between writing and inserting) and temporary files; returns their names.

        Only at start-up: while /augment runs, a file exists a moment before its row does.
        """
        rows = await self._db.fetchall("SELECT path FROM datasets")
        kept = {PurePosixPath(row["path"]).name for row in rows}
        folder = self._data_dir / DATASETS_SUBDIR
        removed = await asyncio.to_thread(_remove_orphans, folder, kept)
        for name in removed:
            log.warning("removed %s from %s: left by an interrupted write", name, folder)
        return removed

    async def get(self, dataset_id: int) -> Dataset | None:
        row = await self._db.fetchone("SELECT * FROM datasets WHERE id = ?", (dataset_id,))
        return _dataset(row) if row else None

    async def lineage(self, dataset_id: int) -> list[Ancestor]:
        """The dataset and every dataset it came from (nearest first), each with its parents;
        at most LINEAGE_LIMIT of them."""
        rows = await self._db.fetchall(
            "WITH RECURSIVE line (id, depth) AS ("
            " SELECT ?, 0"
            " UNION SELECT p.parent_id, line.depth + 1 FROM dataset_parents p"
            " JOIN line ON p.dataset_id = line.id WHERE line.depth < ?)"
            " SELECT d.* FROM datasets d"
            " JOIN (SELECT id, MIN(depth) AS depth FROM line GROUP BY id) l ON d.id = l.id"
            " ORDER BY l.depth, d.id LIMIT ?",
            (dataset_id, LINEAGE_LIMIT, LINEAGE_LIMIT),
        )
        datasets = [_dataset(row) for row in rows]
        parents = await self._parents_of([dataset.id for dataset in datasets])
        return [Ancestor(dataset, parents.get(dataset.id, ())) for dataset in datasets]

    async def _parents_of(self, dataset_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
        marks = ",".join("?" * len(dataset_ids))
        rows = await self._db.fetchall(
            f"SELECT dataset_id, parent_id FROM dataset_parents WHERE dataset_id IN ({marks})"
            " ORDER BY dataset_id, position",
            dataset_ids,
        )
        parents: dict[int, tuple[int, ...]] = {}
        for row in rows:
            parents[row["dataset_id"]] = (*parents.get(row["dataset_id"], ()), row["parent_id"])
        return parents

    async def recent(self, *, limit: int = 25, offset: int = 0, search: str = "") -> list[Dataset]:
        rows = await self._db.fetchall(
            "SELECT * FROM datasets WHERE name LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?"
            " ORDER BY id DESC LIMIT ? OFFSET ?",
            (f"%{escape_like(search)}%", search.strip(), limit, offset),
        )
        return [_dataset(row) for row in rows]

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) AS n FROM datasets")
        return row["n"]


async def _identical(
    conn: aiosqlite.Connection, digest: str, operation: str, parents: Sequence[int]
) -> Dataset | None:
    """The dataset with this content, operation and parents (in order), if there is one."""
    async with conn.execute(
        "SELECT * FROM datasets WHERE sha256 = ? AND operation = ? ORDER BY id", (digest, operation)
    ) as cur:
        candidates = [_dataset(row) for row in await cur.fetchall()]
    for candidate in candidates:
        async with conn.execute(
            "SELECT parent_id FROM dataset_parents WHERE dataset_id = ? ORDER BY position",
            (candidate.id,),
        ) as cur:
            if [row["parent_id"] for row in await cur.fetchall()] == list(parents):
                return candidate
    return None


def _remove_orphans(folder: Path, kept: set[str]) -> list[str]:
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in sorted(entries, key=lambda entry: entry.name):
        ours = TEMPORARY_FILE.fullmatch(entry.name) or (
            DATASET_FILE.fullmatch(entry.name) and entry.name not in kept
        )
        if ours and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def _write_atomically(folder: Path, target: Path, content: bytes) -> str:
    """Write ``content`` to ``target`` all or nothing; returns its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically({target: content})
    return hashlib.sha256(content).hexdigest()
