"""Stored datasets: the JSONL file under the data directory plus a row describing it.

The file is written to a temporary name, flushed to disk and renamed before the row is
inserted, and removed again if the insert fails: a row never points at a missing or partial
file, and a crash leaves at most a stray ``.tmp`` file.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from storage.database import Database, utc_now
from storage.files import write_atomically

DATASETS_SUBDIR = "datasets"


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
        content: bytes,
        *,
        name: str,
        example_count: int,
        source_file: str,
        method: str,
        by_id: str,
        by_name: str,
    ) -> Dataset:
        folder = self._data_dir / DATASETS_SUBDIR
        relative = (
            Path(DATASETS_SUBDIR) / f"{_safe_stem(name)}-{secrets.token_hex(4)}.jsonl"
        ).as_posix()
        target = self._data_dir / relative
        # File I/O and hashing of a few MB would stall the event loop: do them in a thread.
        digest = await asyncio.to_thread(_write_atomically, folder, target, content)
        try:
            async with self._db.transaction() as conn:
                async with conn.execute(
                    "INSERT INTO datasets (name, path, sha256, example_count, source_file, method,"
                    " created_by, created_by_name, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                    (
                        name,
                        relative,
                        digest,
                        example_count,
                        source_file,
                        method,
                        by_id,
                        by_name,
                        utc_now(),
                    ),
                ) as cur:
                    row = await cur.fetchone()
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return Dataset(**dict(row))

    async def get(self, dataset_id: int) -> Dataset | None:
        row = await self._db.fetchone("SELECT * FROM datasets WHERE id = ?", (dataset_id,))
        return Dataset(**dict(row)) if row else None

    async def recent(self, *, limit: int = 25, offset: int = 0, search: str = "") -> list[Dataset]:
        rows = await self._db.fetchall(
            "SELECT * FROM datasets WHERE name LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?"
            " ORDER BY id DESC LIMIT ? OFFSET ?",
            (f"%{_escape_like(search)}%", search.strip(), limit, offset),
        )
        return [Dataset(**dict(row)) for row in rows]

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) AS n FROM datasets")
        return row["n"]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _write_atomically(folder: Path, target: Path, content: bytes) -> str:
    """Write ``content`` to ``target`` all or nothing; returns its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically({target: content})
    return hashlib.sha256(content).hexdigest()
