"""Storing an augmentation's result as a dataset: what /augment does, and
``python -m bot augment --store``."""

from __future__ import annotations

import asyncio
from pathlib import PurePath

from augment.job import AugmentJob, AugmentRequest
from curation.records import augment_records
from curation.store import Person
from storage.datasets import Dataset, DatasetRepository


def augmented_name(request: AugmentRequest) -> str:
    """The dataset's (and the downloaded files') name: the sheet's stem and the method."""
    return f"{PurePath(request.filename).stem}-{request.method}"


async def store_augmented(
    datasets: DatasetRepository, request: AugmentRequest, job: AugmentJob, by: Person
) -> Dataset:
    """A new dataset (operation ``augment``) holding the job's originals and new examples."""
    records = await asyncio.to_thread(augment_records, job.result)
    return await datasets.add(
        records,
        name=augmented_name(request),
        source_file=request.filename,
        method=request.method,
        operation="augment",
        details={"count": request.count},
        by_id=by.id,
        by_name=by.name,
    )
