"""Several datasets into one, without duplicate examples."""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from curation.records import example_object
from curation.store import DatasetStore, Person
from i18n import LocalizedError, msg
from storage.dataset_examples import ExampleRecord
from storage.datasets import Dataset

# Enough for any workshop; a mistyped list of hundreds of ids is refused, not run.
MAX_MERGED = 10
_SEPARATORS = re.compile(r"[\s,、，]+")


@dataclass(frozen=True)
class Merged:
    dataset: Dataset
    sources: list[Dataset]
    duplicates: int


def dataset_ids(typed: str) -> list[int]:
    """Dataset numbers as typed: "3 5 7", "3,5,7", "#3 #5"; a clear error names what is not
    a number."""
    ids = []
    for part in _SEPARATORS.split(typed.strip()):
        if not part:
            continue
        number = part.removeprefix("#")
        if not number.isascii() or not number.isdigit():
            raise LocalizedError(msg("curation.merge.not_a_number", typed=part[:40]))
        ids.append(int(number))
    return ids


def normalized(value: Any) -> Any:
    """What makes two examples the same: their JSON with keys in order and every text in one
    Unicode form with its spaces collapsed ("犬 が好き " and "犬 が好き" are one example)."""
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).split())
    if isinstance(value, dict):
        return {normalized(key): normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalized(item) for item in value]
    return value


def _key(record: ExampleRecord) -> str:
    example = example_object(record)
    if not example:  # a line that is not JSON: only the very same line is its duplicate
        return "\0" + record.json
    return json.dumps(normalized(example), ensure_ascii=False, sort_keys=True)


def _first_of_each(records: list[ExampleRecord]) -> tuple[list[ExampleRecord], int]:
    seen: set[str] = set()
    unique: list[ExampleRecord] = []
    for rec in records:
        key = _key(rec)
        if key not in seen:
            seen.add(key)
            # Provenance names lines of the source; in the merge they would point elsewhere.
            unique.append(ExampleRecord(rec.json, rec.text))
    return unique, len(records) - len(unique)


async def merge(
    store: DatasetStore, ids: Sequence[int], by: Person, *, name: str | None = None
) -> Merged:
    """A new dataset with every example of ``ids`` (in that order) once."""
    if len(ids) < 2:
        raise LocalizedError(msg("curation.merge.too_few"))
    if len(ids) > MAX_MERGED:
        raise LocalizedError(msg("curation.merge.too_many", count=len(ids), limit=MAX_MERGED))
    twice = sorted({dataset_id for dataset_id in ids if list(ids).count(dataset_id) > 1})
    if twice:
        raise LocalizedError(msg("curation.merge.twice", dataset=twice[0]))
    sources = []
    for dataset_id in ids:
        dataset = await store.datasets.get(dataset_id)
        if dataset is None:
            raise LocalizedError(msg("curation.no_dataset", dataset=dataset_id))
        sources.append(dataset)
    everything = [
        stored.record for dataset in sources for stored in await store.examples.all(dataset.id)
    ]
    # Parsing every example is CPU work: off the event loop.
    records, duplicates = await asyncio.to_thread(_first_of_each, everything)
    label = "+".join(f"#{dataset.id}" for dataset in sources)
    dataset = await store.datasets.add(
        records,
        name=name or f"merge-{'-'.join(str(d.id) for d in sources)}",
        source_file=label,
        method="merge",
        operation="merge",
        parents=[d.id for d in sources],
        details={"duplicates": duplicates},
        by_id=by.id,
        by_name=by.name,
    )
    return Merged(dataset, sources, duplicates)
