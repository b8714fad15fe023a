"""Datasets stored before kobo kept examples as rows: their examples, read from their files.

Run at start-up (the bot and ``python -m bot datasets``): each waiting dataset is imported in one
transaction and taken off the list, so it happens once and a crash resumes where it stopped.
These examples have no provenance: kobo did not keep it then.
"""

from __future__ import annotations

import asyncio
import logging

from curation.records import records_from_jsonl
from curation.store import DatasetStore

log = logging.getLogger(__name__)


async def import_older_datasets(store: DatasetStore) -> int:
    """Import every waiting dataset whose file can be read; returns how many were imported."""
    imported = 0
    for dataset_id in await store.examples.waiting_for_import():
        dataset = await store.datasets.get(dataset_id)
        if dataset is None:  # deleted meanwhile: its row on the list went with it
            continue
        path = store.datasets.file_path(dataset)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            # Left on the list: the next start tries again (a disk not mounted yet, say).
            log.warning(
                "dataset #%d: cannot read %s to import its examples for search and review: %s",
                dataset_id,
                path,
                exc.strerror or exc,
            )
            continue
        records = await asyncio.to_thread(records_from_jsonl, data)
        if await store.examples.import_examples(dataset_id, records):
            imported += 1
            log.info("dataset #%d: imported %d examples from %s", dataset_id, len(records), path)
    return imported
