"""Nothing about training stops the robots' service: the device API comes up first, and kobo
starts and answers ``/get_text`` whatever the embedded trainer finds (issue #15, item 3)."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import aiohttp

from bot.app import KoboApp
from storage.database import Database
from storage.trainer import TrainerJob, TrainerRepository
from tests.trainer.tiny_models import base_models_setting, build_tiny_model

JOB_ID = "ftjob-" + "d" * 24


async def _robot_is_answered(app: KoboApp) -> None:
    url = f"http://127.0.0.1:{app.device_api_port}/get_text"
    async with aiohttp.ClientSession() as http, http.get(url, params={"number": 3}) as response:
        assert response.status == 200
        assert "message" in json.loads(await response.read())


async def _leave_a_damaged_job(settings) -> Path:
    """A job a killed kobo left running, its progress file holding an impossible checkpoint."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = await Database.open(settings.database_path)
    try:
        await TrainerRepository(db).add_job(
            TrainerJob(
                id=JOB_ID,
                base_model="tiny",
                model_name="ft:tiny:kobo::dddddddd",
                training_file="file-" + "0" * 24,
                validation_file=None,
                suffix=None,
                seed=1,
                method="lora",
                hyperparameters={"n_epochs": 1, "batch_size": 1},
                merge=False,
                metadata=None,
                status="running",
                created_unix=1,
            )
        )
    finally:
        await db.close()
    progress = settings.data_dir / "trainer" / "jobs" / JOB_ID / "progress.jsonl"
    progress.parent.mkdir(parents=True)
    progress.write_bytes(b'{"type": "checkpoint", "step": -1}\n')
    return progress


async def test_a_damaged_progress_file_fails_its_job_and_robots_are_answered(
    fake_discord, kobo_settings, tmp_path
):
    settings = kobo_settings.model_copy(
        update={
            "local_training": True,
            "local_base_models": base_models_setting("tiny", build_tiny_model(tmp_path / "tiny")),
        }
    )
    progress = await _leave_a_damaged_job(settings)

    with fake_discord.patched_discord():
        async with KoboApp(settings, guild_ready_timeout=0.05) as app:
            await _robot_is_answered(app)
            assert app.trainer is not None  # local training is on
            job = await TrainerRepository(app.db).get_job(JOB_ID)
    assert job.status == "failed" and job.error_code == "progress_unreadable"
    assert str(progress) in job.error_message


async def test_a_trainer_that_cannot_start_leaves_the_robots_answered(
    fake_discord, kobo_settings, caplog
):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        settings = kobo_settings.model_copy(
            update={"local_training": True, "trainer_port": taken.getsockname()[1]}
        )
        with fake_discord.patched_discord():
            async with KoboApp(settings, guild_ready_timeout=0.05) as app:
                await _robot_is_answered(app)
                assert app.trainer is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("local training is off: the trainer cannot")
    assert "TRAINER_HOST/TRAINER_PORT" in errors[0]
    caplog.clear()


async def test_bad_base_models_leave_the_robots_answered(fake_discord, kobo_settings, caplog):
    settings = kobo_settings.model_copy(
        update={"local_training": True, "local_base_models": '{"tiny": {"source": 7}}'}
    )
    with fake_discord.patched_discord():
        async with KoboApp(settings, guild_ready_timeout=0.05) as app:
            await _robot_is_answered(app)
            assert app.trainer is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("local training is off: LOCAL_BASE_MODELS")
    caplog.clear()
