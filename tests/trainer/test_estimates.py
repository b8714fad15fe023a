"""What the trainer tells the /train preview to estimate from (``GET /v1/models``): a speed that
one noisy run does not swing, and the one-time conversion a base model's first training needs."""

from __future__ import annotations

from pathlib import Path

from openai import AsyncOpenAI

from storage.database import Database
from storage.trainer import JobChanges, TrainerJob, TrainerRepository
from tests.trainer.service import TINY, client_for, trainer_settings
from trainer.base_models import GEMMA_3_270M, gemma_folder
from trainer.server import start_trainer
from trainer.views import MEASURED_RUNS


async def add_finished_job(repo: TrainerRepository, n: int, chars_per_second: float) -> None:
    job_id = f"ftjob-{n:024x}"
    await repo.add_job(
        TrainerJob(
            id=job_id,
            base_model=TINY,
            model_name=f"ft:{TINY}:kobo::{n:08x}",
            training_file="file-1",
            validation_file=None,
            suffix=None,
            seed=42,
            method="lora",
            hyperparameters={"n_epochs": 1},
            merge=False,
            metadata=None,
            status="running",
            created_unix=1_700_000_000 + n,
        )
    )
    changes = JobChanges(
        status="succeeded", finished_unix=1_700_000_100 + n, chars_per_second=chars_per_second
    )
    assert await repo.change_job(job_id, changes)


async def base_models(tmp_path: Path, tiny_base: Path, db: Database) -> dict[str, dict]:
    settings = trainer_settings(tmp_path, tiny_base)
    handle = await start_trainer(settings, db)
    client: AsyncOpenAI = client_for(handle.url)
    try:
        return {m.id: m.model_dump() for m in (await client.models.list()).data}
    finally:
        await client.close()
        await handle.stop()


async def test_the_speed_is_the_median_of_the_last_runs_not_the_last_one(tmp_path, tiny_base, db):
    assert MEASURED_RUNS == 5
    repo = TrainerRepository(db)
    # Oldest first: one run long ago (outside the last five), then four ordinary runs and a
    # last one on a busy machine, four times slower.
    for n, speed in enumerate([9_000.0, 200.0, 210.0, 190.0, 205.0, 50.0]):
        await add_finished_job(repo, n, speed)

    tiny = (await base_models(tmp_path, tiny_base, db))[TINY]

    assert tiny["kobo_throughput_measured"] and tiny["kobo_throughput_runs"] == 5
    assert tiny["kobo_chars_per_second"] == 200.0  # median of 200, 210, 190, 205, 50


async def test_a_single_run_is_the_speed_and_none_is_the_reference(tmp_path, tiny_base, db):
    before = (await base_models(tmp_path, tiny_base, db))[TINY]
    assert not before["kobo_throughput_measured"] and before["kobo_throughput_runs"] == 0
    await add_finished_job(TrainerRepository(db), 1, 123.0)
    after = (await base_models(tmp_path, tiny_base, db))[TINY]
    assert after["kobo_chars_per_second"] == 123.0 and after["kobo_throughput_runs"] == 1


async def test_the_packaged_gemma_names_its_conversion_until_it_is_done(tmp_path, tiny_base, db):
    gemma = (await base_models(tmp_path, tiny_base, db))[GEMMA_3_270M]
    # fp32: about 1.1 GB for its 268 M weights.
    assert gemma["kobo_base_conversion_bytes"] == gemma["kobo_parameters"] * 4
    assert 1_000_000_000 < gemma["kobo_base_conversion_bytes"] < 1_200_000_000
    assert (await base_models(tmp_path, tiny_base, db))[TINY]["kobo_base_conversion_bytes"] is None

    folder = gemma_folder(tmp_path / "data")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    converted = (await base_models(tmp_path, tiny_base, db))[GEMMA_3_270M]
    assert converted["kobo_base_conversion_bytes"] is None
