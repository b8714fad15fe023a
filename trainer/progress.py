"""Read the training process's ``progress.jsonl`` and turn its lines into events, checkpoints and
job changes (the worker protocol of design9.md).

Only complete lines are read (the last one may still be being written); the byte offset after
the last complete line is stored with what it produced, in one transaction, so a restart reads
on from there. Events are keyed by what they are about ("step:12", "checkpoint:30"), so a step
repeated after resuming from a checkpoint, or a line read twice, is recorded once. A malformed
line is logged and skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.service import CHECKPOINT_METRICS
from storage.trainer import JobChanges, NewEvent, TrainerCheckpoint, TrainerJob
from trainer.ids import CHECKPOINT, EVENT, checkpoint_model_name, new_id

log = logging.getLogger(__name__)

PROGRESS_FILE = "progress.jsonl"
MAX_READ_BYTES = 1 << 20  # per read; a longer line than this is skipped as malformed


@dataclass
class RunClock:
    """Where the current training run started, for the estimated finish."""

    started_time: float | None = None
    started_step: int = 0


@dataclass
class ProgressBatch:
    """What a run of complete lines means for the job; empty when nothing new was read."""

    offset: int
    events: list[NewEvent] = field(default_factory=list)
    checkpoints: list[TrainerCheckpoint] = field(default_factory=list)
    device: str | None = None
    dtype: str | None = None
    total_steps: int | None = None
    estimated_finish_unix: int | None = None
    succeeded: dict[str, Any] | None = None  # the "succeeded" line
    failed: str | None = None  # the "failed" line's error
    final_line_offset: int | None = None  # where the succeeded or failed line starts

    def changes(self) -> JobChanges:
        # The stored offset stops before a final line: if the trainer dies before it has
        # finished the job, the next start reads that line again and finishes it then.
        return JobChanges(
            progress_offset=self.offset
            if self.final_line_offset is None
            else self.final_line_offset,
            device=self.device,
            dtype=self.dtype,
            total_steps=self.total_steps,
            estimated_finish_unix=self.estimated_finish_unix,
        )


def read_complete_lines(path: Path, offset: int) -> tuple[list[tuple[int, bytes]], int]:
    """The complete lines from ``offset`` on, each with its own offset, and the offset after
    them (blocking: call it in a thread). A missing file has no lines."""
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        # A line longer than a whole read can never complete here: skip it as malformed.
        if len(data) == MAX_READ_BYTES:
            log.warning("skipping an over-long line at byte %d of %s", offset, path)
            return [], offset + len(data)
        return [], offset
    lines, position = [], offset
    for raw in data[: end + 1].split(b"\n")[:-1]:
        lines.append((position, raw))
        position += len(raw) + 1
    return lines, position


def interpret(
    job: TrainerJob, lines: list[tuple[int, bytes]], offset: int, clock: RunClock, now: int
) -> ProgressBatch:
    """``now``: the time of events whose line has none."""
    batch = ProgressBatch(offset=offset)
    for line_offset, raw in lines:
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            _apply(job, record, line_offset, clock, batch, now)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning(
                "job %s: skipping a malformed progress line at byte %d: %s",
                job.id,
                line_offset,
                exc,
            )
    return batch


def _apply(
    job: TrainerJob,
    record: dict[str, Any],
    line_offset: int,
    clock: RunClock,
    batch: ProgressBatch,
    now: int,
) -> None:
    kind = record["type"]
    when = int(_number(record.get("time")) or now)
    if kind == "started":
        device, dtype = str(record["device"]), str(record["dtype"])
        resumed = record.get("resumed_from_step")
        batch.device, batch.dtype = device, dtype
        batch.total_steps = _int(record["total_steps"])
        clock.started_time, clock.started_step = float(record.get("time") or when), resumed or 0
        if resumed is None:
            message = (
                f"Job started on {device} ({dtype}): {_int(record['examples'])} examples,"
                f" {_int(record['n_epochs'])} epochs, {batch.total_steps} steps"
            )
        else:
            message = f"Job resumed on {device} ({dtype}) from the checkpoint at step {resumed}"
        data = {
            key: record.get(key)
            for key in (
                "device",
                "dtype",
                "examples",
                "total_steps",
                "n_epochs",
                "trainable_parameters",
                "resumed_from_step",
            )
        }
        batch.events.append(_event(f"started:{line_offset}", when, message, data=data))
    elif kind == "metrics":
        step, total = _int(record["step"]), _int(record["total_steps"])
        loss = _number(record["train_loss"])
        data: dict[str, Any] = {
            "step": step,
            "total_steps": total,
            "train_loss": loss,
            "train_mean_token_accuracy": _number(record.get("train_mean_token_accuracy")),
        }
        if record.get("valid_loss") is not None:
            data["valid_loss"] = _number(record["valid_loss"])
        batch.total_steps = total
        batch.events.append(
            _event(
                f"step:{step}",
                when,
                f"Step {step}/{total}: training loss={loss:.2f}",
                type_="metrics",
                data=data,
            )
        )
        batch.estimated_finish_unix = _estimate(clock, step, total, record.get("time"))
    elif kind == "checkpoint":
        step = _int(record["step"])
        metrics = record.get("metrics") or {}
        batch.checkpoints.append(
            TrainerCheckpoint(
                id=new_id(CHECKPOINT),
                job_id=job.id,
                step=step,
                metrics={
                    key: _number(metrics[key])
                    for key in CHECKPOINT_METRICS
                    if metrics.get(key) is not None
                },
                model=checkpoint_model_name(job.model_name, step),
                created_unix=when,
            )
        )
        batch.events.append(
            _event(f"checkpoint:{step}", when, f"Checkpoint created at step {step}")
        )
    elif kind == "warning":
        message = str(record["message"])
        # The same warning comes again when a run resumes: keyed by its text, it is kept once.
        digest = hashlib.sha256(message.encode()).hexdigest()[:16]
        batch.events.append(NewEvent(new_id(EVENT), f"warning:{digest}", when, message, "warn"))
    elif kind == "succeeded":
        batch.succeeded = record
        batch.final_line_offset = line_offset
    elif kind == "failed":
        batch.failed = str(record["error"])
        batch.final_line_offset = line_offset
    else:
        raise ValueError(f"unknown line type {str(kind)[:40]!r}")


def _event(
    key: str,
    when: int,
    message: str,
    *,
    type_: str = "message",
    data: dict[str, Any] | None = None,
) -> NewEvent:
    return NewEvent(new_id(EVENT), key, when, message, type=type_, data=data)


def _estimate(clock: RunClock, step: int, total: int, now: Any) -> int | None:
    if clock.started_time is None or now is None or step <= clock.started_step:
        return None
    per_step = (float(now) - clock.started_time) / (step - clock.started_step)
    return int(float(now) + per_step * max(0, total - step))


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    return value


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number")
    return float(value)
