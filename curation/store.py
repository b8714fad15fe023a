"""The dataset store: the three repositories curation works with, over one database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.database import Database
from storage.dataset_examples import ExampleRepository
from storage.datasets import DatasetRepository
from storage.reviews import ReviewRepository


@dataclass(frozen=True)
class DatasetStore:
    datasets: DatasetRepository
    examples: ExampleRepository
    reviews: ReviewRepository

    @classmethod
    def over(cls, db: Database, data_dir: Path) -> DatasetStore:
        return cls(DatasetRepository(db, data_dir), ExampleRepository(db), ReviewRepository(db))


@dataclass(frozen=True)
class Person:
    """Who did something: a Discord user (id and display name) or the command line."""

    id: str
    name: str
