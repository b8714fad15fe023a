"""Where the trainer keeps its files: ``DATA_DIR/trainer/files/<file id>``, jobs' folders
``DATA_DIR/trainer/jobs/<job id>/`` and finished models ``DATA_DIR/models/<job id>/``.

A file is stored under its id, never under the name the client sent. An upload is streamed to a
temporary file beside its target, flushed to disk and renamed only when complete (see
:class:`Upload`), so no half-written file ever carries an id. Disk work runs in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
from pathlib import Path

from storage.files import TEMPORARY_SUFFIX, temporary_name

log = logging.getLogger(__name__)

TRAINER_SUBDIR = "trainer"
FILES_SUBDIR = "files"
JOBS_SUBDIR = "jobs"
MODELS_SUBDIR = "models"
WRITE_CHUNK_BYTES = 1 << 20  # buffered before each write in a thread


class TrainerPaths:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).resolve()
        self.files_dir = self.data_dir / TRAINER_SUBDIR / FILES_SUBDIR
        self.jobs_dir = self.data_dir / TRAINER_SUBDIR / JOBS_SUBDIR
        self.models_dir = self.data_dir / MODELS_SUBDIR

    def file_relative(self, file_id: str) -> str:
        return f"{TRAINER_SUBDIR}/{FILES_SUBDIR}/{file_id}"

    def absolute(self, relative: str) -> Path:
        return self.data_dir / relative

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def model_dir(self, job_id: str) -> Path:
        return self.models_dir / job_id

    def model_relative(self, job_id: str) -> str:
        return f"{MODELS_SUBDIR}/{job_id}"

    async def remove_temporary_files(self) -> None:
        """Leftovers of uploads a crash interrupted (they never got a row)."""
        removed = await asyncio.to_thread(_remove_temporary, self.files_dir)
        for name in removed:
            log.info("removed the interrupted upload %s", name)


class UploadTooLarge(Exception):
    pass


class Upload:
    """One upload being written: :meth:`write` chunks, then :meth:`commit` or :meth:`discard`."""

    def __init__(self, target: Path, max_bytes: int):
        self.target = target
        self.max_bytes = max_bytes
        self.bytes = 0
        self._temporary = temporary_name(target)
        self._sha256 = hashlib.sha256()
        self._buffer = bytearray()
        self._handle: int | None = None

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._handle = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)

    async def write(self, chunk: bytes) -> None:
        """Raises :class:`UploadTooLarge` as soon as the content passes ``max_bytes``."""
        self.bytes += len(chunk)
        if self.bytes > self.max_bytes:
            raise UploadTooLarge
        self._buffer += chunk
        if len(self._buffer) >= WRITE_CHUNK_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        data, self._buffer = bytes(self._buffer), bytearray()
        await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        self._sha256.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self._handle, view) :]

    async def commit(self) -> None:
        await self._flush()
        await asyncio.to_thread(self._commit)

    def _commit(self) -> None:
        os.fsync(self._handle)
        os.close(self._handle)
        self._handle = None
        os.replace(self._temporary, self.target)

    async def discard(self) -> None:
        await asyncio.to_thread(self._discard)

    def _discard(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None
        self._temporary.unlink(missing_ok=True)


async def copy_file(source: Path, target: Path) -> tuple[int, str]:
    """Copy all or nothing; returns the size and sha256 of what was copied."""
    return await asyncio.to_thread(_copy, source, target)


def _copy(source: Path, target: Path) -> tuple[int, str]:
    data = source.read_bytes()  # a result CSV or a training file: bounded by the upload limit
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(target)
    try:
        with open(temporary, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return len(data), hashlib.sha256(data).hexdigest()


async def remove_tree(path: Path) -> None:
    await asyncio.to_thread(shutil.rmtree, path, True)


def _remove_temporary(folder: Path) -> list[str]:
    removed = []
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(TEMPORARY_SUFFIX):
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
    return removed
