"""The trainer's HTTP API: the part of OpenAI's API kobo uses, for local fine-tuning.

``create_app(settings, runner=runner)`` builds it around a :class:`~trainer.runner.JobRunner`
(which holds the database and runs the jobs); trainer/server.py serves it, alone
(``python -m trainer``) or inside the bot. Routes, all under ``/v1`` and in OpenAI's shapes:

- ``POST|GET /v1/files`` (the list takes OpenAI's ``purpose``, ``limit``, ``order``, ``after``),
  ``GET|DELETE /v1/files/{id}``, ``GET /v1/files/{id}/content``
- ``POST|GET /v1/fine_tuning/jobs``, ``GET /v1/fine_tuning/jobs/{id}``,
  ``POST .../{id}/cancel``, ``GET .../{id}/events``, ``GET .../{id}/checkpoints``
- ``GET /v1/models``: the base models it can train (``kobo_trainable: true``, with kobo's
  figures for estimates: ``kobo_chars_per_second`` (the median of this trainer's last
  ``kobo_throughput_runs`` jobs on that model, up to trainer.views.MEASURED_RUNS, when
  ``kobo_throughput_measured``, else the table's reference), ``kobo_base_conversion_bytes``
  (the one-time conversion still due before its first training, else null),
  ``kobo_parameters``, ``kobo_source``, ``kobo_peak_memory_bytes``, ``kobo_device``,
  ``kobo_licence``) and the fine-tunes it made
  (``kobo_trainable: false``, ``kobo_base_model``); ``GET /v1/models/{id}`` one of them.
- ``DELETE /v1/models/{id}``: a fine-tune's folder is removed and it leaves the list; refused
  (409 ``model_in_use``) while a robot is assigned it (kobo's assignments, when the trainer
  shares kobo's database).

With ``TRAINER_TOKEN`` set every request needs ``Authorization: Bearer <token>`` (see
trainer/http_errors.py); every error is OpenAI's error object.
"""

from __future__ import annotations

from aiohttp import web

from config.settings import TrainerSettings
from trainer import views
from trainer.http_errors import api_middleware
from trainer.keys import RUNNER, SETTINGS
from trainer.runner import JobRunner

# aiohttp's own limit on bodies read whole: create-job JSON is checked tighter in views; an
# upload is streamed and limited by TRAINER_MAX_FILE_BYTES (trainer/uploads.py).
CLIENT_MAX_SIZE = 1024 * 1024


def create_app(settings: TrainerSettings, *, runner: JobRunner) -> web.Application:
    app = web.Application(
        middlewares=[api_middleware(settings.trainer_token)], client_max_size=CLIENT_MAX_SIZE
    )
    app[SETTINGS] = settings
    app[RUNNER] = runner
    router = app.router
    router.add_post("/v1/files", views.upload_file)
    router.add_get("/v1/files", views.list_files)
    router.add_get("/v1/files/{file_id}", views.retrieve_file)
    router.add_delete("/v1/files/{file_id}", views.delete_file)
    router.add_get("/v1/files/{file_id}/content", views.file_content)
    router.add_post("/v1/fine_tuning/jobs", views.create_job)
    router.add_get("/v1/fine_tuning/jobs", views.list_jobs)
    router.add_get("/v1/fine_tuning/jobs/{job_id}", views.retrieve_job)
    router.add_post("/v1/fine_tuning/jobs/{job_id}/cancel", views.cancel_job)
    router.add_get("/v1/fine_tuning/jobs/{job_id}/events", views.list_events)
    router.add_get("/v1/fine_tuning/jobs/{job_id}/checkpoints", views.list_checkpoints)
    router.add_get("/v1/models", views.list_models)
    router.add_get("/v1/models/{model}", views.retrieve_model)
    router.add_delete("/v1/models/{model}", views.delete_model)
    return app
