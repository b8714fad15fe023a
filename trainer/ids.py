"""Ids in OpenAI's shapes: ``ftjob-``, ``file-``, ``ftevent-``, ``ftckpt-`` + 24 lowercase hex."""

from __future__ import annotations

import secrets

JOB = "ftjob-"
FILE = "file-"
EVENT = "ftevent-"
CHECKPOINT = "ftckpt-"


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def fine_tuned_model_name(base_model: str, suffix: str | None, job_id: str) -> str:
    """``ft:<base>:kobo:<suffix or empty>:<first 8 hex of the job id>`` (design of issue 9)."""
    return f"ft:{base_model}:kobo:{suffix or ''}:{job_id.removeprefix(JOB)[:8]}"


def checkpoint_model_name(model_name: str, step: int) -> str:
    return f"{model_name}:ckpt-step-{step}"
