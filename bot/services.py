"""Everything the cogs use, built once per process from the settings and the open database."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from robots.service import RobotService
from storage.assignments import AssignmentRepository
from storage.database import Database
from storage.datasets import DatasetRepository
from storage.last_seen import LastSeenRecorder


@dataclass
class Services:
    settings: Settings
    db: Database
    last_seen: LastSeenRecorder
    robots: RobotService
    datasets: DatasetRepository

    @classmethod
    def build(cls, settings: Settings, db: Database) -> Services:
        last_seen = LastSeenRecorder(db)
        return cls(
            settings=settings,
            db=db,
            last_seen=last_seen,
            robots=RobotService(AssignmentRepository(db), last_seen, settings.default_model),
            datasets=DatasetRepository(db, settings.data_dir),
        )
