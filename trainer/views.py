"""The handlers of the trainer's API (OpenAI's routes under ``/v1``; see trainer/app.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from storage.trainer import TrainerFile, TrainerJob
from trainer.http_errors import ApiError, shorten
from trainer.job_request import parse_job_request
from trainer.keys import RUNNER, SETTINGS
from trainer.objects import (
    checkpoint_object,
    deleted_file,
    event_object,
    file_object,
    fine_tune_model_object,
    job_object,
    list_object,
)
from trainer.runner import CancelOutcome, JobRunner
from trainer.uploads import receive_upload

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_JSON_BYTES = 64 * 1024  # a create-job body is a few hundred bytes


# --- files ------------------------------------------------------------------------------------


async def upload_file(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    stored = await receive_upload(
        request,
        runner.paths,
        runner.repository,
        request.app[SETTINGS].trainer_max_file_bytes,
    )
    return web.json_response(file_object(stored))


async def retrieve_file(request: web.Request) -> web.Response:
    return web.json_response(file_object(await _file(request)))


async def delete_file(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    file_id = request.match_info["file_id"]
    deleted = await runner.repository.delete_file(file_id)
    if deleted is None:
        raise _no_file(file_id)
    await asyncio.to_thread(runner.paths.absolute(deleted.path).unlink, missing_ok=True)
    return web.json_response(deleted_file(file_id))


async def file_content(request: web.Request) -> web.StreamResponse:
    file = await _file(request)
    path = request.app[RUNNER].paths.absolute(file.path)
    # FileResponse streams it from disk without blocking the loop.
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})


# --- jobs -------------------------------------------------------------------------------------


async def create_job(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    job_request = parse_job_request(await _json_body(request), runner.base_models)
    training = await _fine_tune_file(runner, job_request.training_file, "training_file")
    if job_request.validation_file is not None:
        await _fine_tune_file(runner, job_request.validation_file, "validation_file")
    job = await runner.create_job(job_request, training)
    return web.json_response(job_object(job))


async def list_jobs(request: web.Request) -> web.Response:
    after, limit = _paging(request)
    page = await request.app[RUNNER].repository.list_jobs(after=after, limit=limit)
    return web.json_response(list_object(page, job_object))


async def retrieve_job(request: web.Request) -> web.Response:
    return web.json_response(job_object(await _job(request)))


async def cancel_job(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    outcome, job = await request.app[RUNNER].cancel(job_id)
    if outcome is CancelOutcome.NOT_FOUND or job is None:
        raise _no_job(job_id)
    if outcome is CancelOutcome.ALREADY_FINISHED:
        raise ApiError(
            409, f"Job {job_id} has already finished: {job.status}", code="job_already_finished"
        )
    return web.json_response(job_object(job))


async def list_events(request: web.Request) -> web.Response:
    job = await _job(request)
    after, limit = _paging(request)
    page = await request.app[RUNNER].repository.list_events(job.id, after=after, limit=limit)
    return web.json_response(list_object(page, event_object))


async def list_checkpoints(request: web.Request) -> web.Response:
    job = await _job(request)
    after, limit = _paging(request, default=10)
    page = await request.app[RUNNER].repository.list_checkpoints(job.id, after=after, limit=limit)
    return web.json_response(list_object(page, checkpoint_object))


# --- models -----------------------------------------------------------------------------------


async def list_models(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    data = [await _base_model_object(runner, name) for name in runner.base_models]
    data += [fine_tune_model_object(m) for m in await runner.repository.finished_models()]
    return web.json_response({"object": "list", "data": data})


async def _base_model_object(runner: JobRunner, name: str) -> dict[str, Any]:
    base = runner.base_models[name]
    measured = await runner.repository.last_throughput(name)
    return {
        "id": name,
        "object": "model",
        "created": 0,
        "owned_by": "kobo",
        "kobo_trainable": True,
        "kobo_source": base.source,
        "kobo_licence": base.licence,
        "kobo_parameters": base.parameters,
        "kobo_chars_per_second": (
            measured.chars_per_second if measured else base.reference_chars_per_second
        ),
        "kobo_throughput_measured": measured is not None,
        "kobo_peak_memory_bytes": (
            measured.peak_memory_bytes
            if measured and measured.peak_memory_bytes
            else base.reference_peak_memory_bytes
        ),
        "kobo_device": (measured.device if measured and measured.device else None)
        or await runner.device(),
    }


# --- helpers ----------------------------------------------------------------------------------


async def _file(request: web.Request) -> TrainerFile:
    file_id = request.match_info["file_id"]
    file = await request.app[RUNNER].repository.get_file(file_id)
    if file is None:
        raise _no_file(file_id)
    return file


async def _job(request: web.Request) -> TrainerJob:
    job_id = request.match_info["job_id"]
    job = await request.app[RUNNER].repository.get_job(job_id)
    if job is None:
        raise _no_job(job_id)
    return job


async def _fine_tune_file(runner: JobRunner, file_id: str, param: str) -> TrainerFile:
    file = await runner.repository.get_file(file_id)
    if file is None or file.purpose != "fine-tune":
        raise ApiError(
            400,
            f"Invalid file ID: {shorten(file_id)} is not a file uploaded for fine-tuning",
            param=param,
            code="invalid_file_id",
        )
    return file


def _no_file(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {shorten(file_id)}", param="id")


def _no_job(job_id: str) -> ApiError:
    return ApiError(404, f"No such fine-tuning job: {shorten(job_id)}", param="id")


async def _json_body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise ApiError(413, f"The request body is larger than {MAX_JSON_BYTES:,} bytes.")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, f"The request body is larger than {MAX_JSON_BYTES:,} bytes.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {shorten(str(exc))}") from None


def _paging(request: web.Request, default: int = DEFAULT_PAGE) -> tuple[str | None, int]:
    after = request.query.get("after") or None
    raw = request.query.get("limit")
    if raw is None:
        return after, default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(
            400,
            f"limit must be an integer from 1 to {MAX_PAGE}, got {shorten(raw)!r}",
            param="limit",
        )
    return after, limit
