"""Stored datasets: the JSONL file under the data directory plus a row describing it.

The file is written to a temporary name, flushed to disk and renamed before the row is
inserted, and removed again if the insert fails: a row never points at a missing or partial
file. A crash can still leave a ``.tmp`` file, or a file whose row was never inserted:
``remove_orphans`` deletes those at start-up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from storage.database import Database, utc_now
from storage.files import write_atomically

DATASETS_SUBDIR = "datasets"
# The names this module gives: "<safe stem>-<8 hex>.jsonl" (see add), the temporary files
# storage.files makes for them, and the "<stem>-<8 hex>.tmp" of earlier versions.
DATASET_FILE = re.compile(r"[A-Za-z0-9_-]+-[0-9a-f]{8}\.jsonl")
TEMPORARY_FILE = re.compile(r"\.?[A-Za-z0-9_-]+-[0-9a-f]{8}(\.jsonl\.[0-9a-f]{8})?\.tmp")

log = logging.getLogger(__name__)


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
