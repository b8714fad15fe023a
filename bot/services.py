"""Everything the cogs use, built once per process from the settings and the open database."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from curation.store import DatasetStore
from finetune.backends import make_openai_client, make_trainer_client
from finetune.local_models import LocalServing
from finetune.models import ModelTable, load_model_table
from finetune.service import FineTuneService
from gateway.service import Gateway
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
    store: DatasetStore
    finetune: FineTuneService
    base_models: ModelTable
    gateway: Gateway  # the robots' chats, served by the device API; also /try and /robot-key

    @classmethod
    def build(cls, settings: Settings, db: Database, trainer_url: str | None = None) -> Services:
        """Raises ModelTableError when FINETUNE_MODELS cannot be used. ``trainer_url``: where
        kobo's trainer answers (the embedded one's address, or TRAINER_URL); None = local
        training is off."""
        base_models = load_model_table(settings.finetune_models)
        last_seen = LastSeenRecorder(db, max_unassigned=settings.last_seen_max_unassigned)
        client = make_openai_client(
            settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_seconds,
            max_retries=settings.openai_max_retries,
        )
        local_client = None
        if trainer_url is not None:
            token = settings.trainer_token
            local_client = make_trainer_client(
                trainer_url,
                token.get_secret_value() if token else None,
                timeout=settings.openai_timeout_seconds,
                max_retries=settings.openai_max_retries,
            )
        finetune = FineTuneService(
            client,
            db,
            local_client=local_client,
            local_serving=LocalServing.from_settings(settings),
        )
        robots = RobotService(
            AssignmentRepository(db),
            last_seen,
            settings.default_model,
            more_models=finetune.succeeded_models,
        )
        store = DatasetStore.over(db, settings.data_dir)
        return cls(
            settings=settings,
            db=db,
            last_seen=last_seen,
            robots=robots,
            datasets=store.datasets,
            store=store,
            finetune=finetune,
            base_models=base_models,
            gateway=Gateway(settings, db, settings.default_model),
        )
