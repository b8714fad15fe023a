"""The JSON the API answers with, in the shapes of OpenAI's published schemas (checked in the
tests against tests/openapi/openai-subset.json): ``OpenAIFile``, ``FineTuningJob``,
``FineTuningJobEvent``, ``FineTuningJobCheckpoint``, ``Model``, the deleted objects and lists."""

from __future__ import annotations

from typing import Any

from storage.trainer import (
    FinishedModel,
    Page,
    TrainerCheckpoint,
    TrainerEvent,
    TrainerFile,
    TrainerJob,
)

ORGANIZATION = "kobo"  # organization_id of every job, and owned_by of every model


def file_object(file: TrainerFile) -> dict[str, Any]:
    return {
        "id": file.id,
        "object": "file",
        "bytes": file.bytes,
        "created_at": file.created_unix,
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
        # expires_at and status_details are left out: OpenAI's schema has them as an integer
        # and a string (never null), and kobo's files neither expire nor fail processing.
    }


def deleted_file(file_id: str) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "deleted": True}


def deleted_model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "deleted": True}


def job_object(job: TrainerJob) -> dict[str, Any]:
    hyper = {key: value for key, value in job.hyperparameters.items() if value is not None}
    openai_hyper = {
        key: hyper[key] for key in ("batch_size", "learning_rate_multiplier", "n_epochs")
    }
    error = None
    if job.status == "failed":
        error = {
            "code": job.error_code or "training_failed",
            "message": job.error_message or "the job failed",
            "param": job.error_param,
        }
    return {
        "id": job.id,
        "object": "fine_tuning.job",
        "created_at": job.created_unix,
        "error": error,
        "fine_tuned_model": job.model_name if job.status == "succeeded" else None,
        "finished_at": job.finished_unix,
        # kobo's own (learning_rate, lora_rank, full_fine_tune, merge) ride along: the SDK keeps
        # unknown fields.
        "hyperparameters": hyper,
        "model": job.base_model,
        "organization_id": ORGANIZATION,
        "result_files": [job.result_file] if job.result_file else [],
        "seed": job.seed,
        "status": job.status,
        "trained_tokens": job.trained_tokens,
        "training_file": job.training_file,
        "validation_file": job.validation_file,
        "estimated_finish": job.estimated_finish_unix if job.status == "running" else None,
        "integrations": [],
        "metadata": job.metadata,
        "method": {"type": "supervised", "supervised": {"hyperparameters": openai_hyper}},
        "user_provided_suffix": job.suffix,
        # Where the training ran ("cpu"/"cuda"), once it started.
        "kobo_device": job.device,
    }


def event_object(event: TrainerEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "object": "fine_tuning.job.event",
        "created_at": event.created_unix,
        "level": event.level,
        "message": event.message,
        "data": event.data or {},
        "type": event.type,
    }


def checkpoint_object(checkpoint: TrainerCheckpoint) -> dict[str, Any]:
    return {
        "id": checkpoint.id,
        "object": "fine_tuning.job.checkpoint",
        "created_at": checkpoint.created_unix,
        "fine_tuned_model_checkpoint": checkpoint.model,
        "fine_tuning_job_id": checkpoint.job_id,
        "step_number": checkpoint.step,
        "metrics": {"step": float(checkpoint.step), **checkpoint.metrics},
    }


def fine_tune_model_object(model: FinishedModel) -> dict[str, Any]:
    return {
        "id": model.name,
        "object": "model",
        "created": model.finished_unix,
        "owned_by": ORGANIZATION,
        "kobo_trainable": False,
        "kobo_base_model": model.base_model,
    }


def list_object(page: Page, convert: Any) -> dict[str, Any]:
    data = [convert(item) for item in page.items]
    return {
        "object": "list",
        "data": data,
        "has_more": page.has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def file_list_object(page: Page) -> dict[str, Any]:
    """OpenAI's ListFilesResponse has first_id and last_id as strings: "" on an empty page."""
    listed = list_object(page, file_object)
    return {**listed, "first_id": listed["first_id"] or "", "last_id": listed["last_id"] or ""}
