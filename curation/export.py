"""A stored dataset as a file: the JSONL sent to training, or a sheet with the review's decisions.

The sheets (xlsx, csv) are the review copies /augment makes (augment.export), plus three
columns: ``review`` (keep, drop, edit, or empty when undecided), ``reviewed_by`` and
``edited_user`` (the corrected sentence of an edit). They can be uploaded to /augment again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from augment.example import Example
from augment.export import to_csv, to_xlsx
from curation.records import example_object
from curation.store import DatasetStore
from i18n import LocalizedError, msg
from storage.dataset_examples import StoredExample
from storage.reviews import ReviewDecision

ExportFormat = Literal["xlsx", "csv", "jsonl"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("xlsx", "csv", "jsonl")
REVIEW_COLUMNS = ("review", "reviewed_by", "edited_user")


@dataclass(frozen=True)
class Exported:
    filename: str
    data: bytes


async def export(store: DatasetStore, dataset_id: int, file_format: ExportFormat) -> Exported:
    if file_format not in EXPORT_FORMATS:  # Discord offers only these; a client may send any
        raise LocalizedError(
            msg(
                "curation.export.unknown_format",
                format=str(file_format)[:20],
                formats=", ".join(EXPORT_FORMATS),
            )
        )
    dataset = await store.datasets.get(dataset_id)
    if dataset is None:
        raise LocalizedError(msg("curation.no_dataset", dataset=dataset_id))
    filename = f"dataset-{dataset.id}.{file_format}"
    if file_format == "jsonl":
        path = store.datasets.file_path(dataset)
        try:
            # The very file training uses, byte for byte.
            return Exported(filename, await asyncio.to_thread(path.read_bytes))
        except OSError as exc:
            raise LocalizedError(
                msg("curation.export.file_missing", dataset=dataset.id, reason=exc.strerror or exc)
            ) from None
    examples = await store.examples.all(dataset.id)
    decisions = await store.reviews.all(dataset.id)
    writer = to_xlsx if file_format == "xlsx" else to_csv
    data = await asyncio.to_thread(_sheet, writer, examples, decisions)
    return Exported(filename, data)


def _sheet(writer, examples: list[StoredExample], decisions: dict[int, ReviewDecision]) -> bytes:
    rows = [_example(stored) for stored in examples]
    shown = [decisions.get(stored.line) for stored in examples]
    extra = {
        "review": [d.decision if d else "" for d in shown],
        "reviewed_by": [d.decided_by_name if d else "" for d in shown],
        "edited_user": [(d.edited_text or "") if d else "" for d in shown],
    }
    return writer(rows, extra)


def _example(stored: StoredExample) -> Example:
    obj = example_object(stored.record)
    messages = obj.get("messages")
    if not isinstance(messages, list):
        return Example(messages=())
    kept = tuple(message for message in messages if isinstance(message, dict))
    return Example(messages=kept, extra={k: v for k, v in obj.items() if k != "messages"})
