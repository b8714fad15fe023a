"""The handlers of the trainer's API (OpenAI's routes under ``/v1``; see trainer/app.py)."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path
from typing import Any

from aiohttp import web

from http_common.bodies import BodyError, read_json
from storage.trainer import TrainerFile, TrainerJob
from trainer.base_models import GEMMA_3_270M, BaseModel
from trainer.file_store import remove_tree
from trainer.gemma_package import is_converted
from trainer.http_errors import ApiError, body_refusal, shorten
from trainer.job_request import parse_job_request
from trainer.keys import RUNNER, SETTINGS
from trainer.objects import (
    checkpoint_object,
    deleted_file,
    deleted_model,
    event_object,
    file_list_object,
    file_object,
    fine_tune_model_object,
    job_object,
    list_object,
)
from trainer.runner import CancelOutcome, JobRunner
from trainer.uploads import receive_upload

DEFAULT_PAGE = 20
MAX_PAGE = 100
# GET /v1/files: OpenAI's own default and ceiling (a trainer holds a few files per job).
FILES_PAGE = 10_000
FILE_ORDERS = ("desc", "asc")
MAX_JSON_BYTES = 64 * 1024  # a create-job body is a few hundred bytes
# A base model's training speed is the median of this many of its last measured runs.
MEASURED_RUNS = 5
FP32_BYTES_PER_WEIGHT = 4


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


async def list_files(request: web.Request) -> web.Response:
    after, limit = _paging(request, default=FILES_PAGE, most=FILES_PAGE)
    order = request.query.get("order", FILE_ORDERS[0])
    if order not in FILE_ORDERS:
        raise ApiError(400, f"order must be 'asc' or 'desc', got {shorten(order)!r}", param="order")
    page = await request.app[RUNNER].repository.list_files(
        purpose=request.query.get("purpose") or None,
        after=after,
        limit=limit,
        ascending=order == "asc",
    )
    return web.json_response(file_list_object(page))


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


async def retrieve_model(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    name = request.match_info["model"]
    if name in runner.base_models:
        return web.json_response(await _base_model_object(runner, name))
    model = await runner.repository.finished_model(name)
    if model is None:
        raise _no_model(name)
    return web.json_response(fine_tune_model_object(model))


async def delete_model(request: web.Request) -> web.Response:
    """A fine-tune of this trainer's: its folder goes, and it leaves /v1/models. A robot that
    is assigned it would go silent, so that is refused until the robot is given another."""
    runner = request.app[RUNNER]
    name = request.match_info["model"]
    if name in runner.base_models:
        raise ApiError(
            403, f"{shorten(name)} is a base model; only fine-tunes can be deleted", param="model"
        )
    deletion = await runner.repository.delete_model(name, int(runner.clock()))
    if deletion.model is None:
        raise _no_model(name)
    if deletion.assigned_to:
        robots = ", ".join(f"#{stack}" for stack in deletion.assigned_to)
        raise ApiError(
            409,
            f"{shorten(name)} is assigned to robot {robots}: assign another model first",
            param="model",
            code="model_in_use",
        )
    await remove_tree(runner.paths.model_dir(deletion.model.job_id))
    return web.json_response(deleted_model(name))


async def _base_model_object(runner: JobRunner, name: str) -> dict[str, Any]:
    base = runner.base_models[name]
    recent = await runner.repository.recent_throughputs(name, MEASURED_RUNS)
    measured = recent[0] if recent else None
    return {
        "id": name,
        "object": "model",
        "created": 0,
        "owned_by": "kobo",
        "kobo_trainable": True,
        "kobo_source": base.source,
        "kobo_licence": base.licence,
        "kobo_parameters": base.parameters,
        # The median, so that one run on a busy machine does not swing the next estimate.
        "kobo_chars_per_second": (
            statistics.median(t.chars_per_second for t in recent)
            if recent
            else base.reference_chars_per_second
        ),
        "kobo_throughput_measured": measured is not None,
        "kobo_throughput_runs": len(recent),
        "kobo_base_conversion_bytes": await asyncio.to_thread(_conversion_bytes, base),
        "kobo_peak_memory_bytes": (
            measured.peak_memory_bytes
            if measured and measured.peak_memory_bytes
            else base.reference_peak_memory_bytes
        ),
        "kobo_device": (measured.device if measured and measured.device else None)
        or await runner.device(),
    }


def _conversion_bytes(base: BaseModel) -> int | None:
    """The fp32 folder the packaged Gemma is converted into before its first training
    (trainer/gemma_package.py), while it is not there yet; None otherwise."""
    folder = Path(base.source)
    if base.name != GEMMA_3_270M or folder.name != GEMMA_3_270M or base.parameters is None:
        return None
    return None if is_converted(folder) else base.parameters * FP32_BYTES_PER_WEIGHT


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


def _no_model(name: str) -> ApiError:
    return ApiError(
        404, f"The model {shorten(name)!r} does not exist", param="model", code="model_not_found"
    )


def _no_job(job_id: str) -> ApiError:
    return ApiError(404, f"No such fine-tuning job: {shorten(job_id)}", param="id")


async def _json_body(request: web.Request) -> Any:
    """The whole body as JSON (http_common.bodies), else an ApiError naming what is wrong."""
    try:
        return await read_json(request, MAX_JSON_BYTES)
    except BodyError as exc:
        raise body_refusal(exc) from None


def _paging(
    request: web.Request, default: int = DEFAULT_PAGE, most: int = MAX_PAGE
) -> tuple[str | None, int]:
    after = request.query.get("after") or None
    raw = request.query.get("limit")
    if raw is None:
        return after, default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= most:
        raise ApiError(
            400,
            f"limit must be an integer from 1 to {most:,}, got {shorten(raw)!r}",
            param="limit",
        )
    return after, limit
