"""Read the training process's ``progress.jsonl`` and turn its lines into events, checkpoints and
job changes (the worker protocol of design9.md).

Only complete lines are read (the last one may still be being written); the byte offset after
the last complete line is stored with what it produced, in one transaction, so a restart reads
on from there. Events are keyed by what they are about ("step:12", "checkpoint:30"), so a step
repeated after resuming from a checkpoint, or a line read twice, is recorded once.

Every field of a line is checked (its type and range) before it is used: the file is on disk,
and what a crash, a full disk or a hand left there must not reach the database. The first
damaged line ends the batch (:attr:`ProgressBatch.damage`): the job's state cannot be known from
there on, and the runner fails the job naming the file.
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
MAX_READ_BYTES = 1 << 20  # per read; a line longer than this is damage
# Ranges a line's fields must be in: counts and steps fit SQLite's integers with room to spare,
# times are Unix seconds before the year 10000, texts are what the worker writes, and more.
MAX_COUNT = 1 << 53
MAX_UNIX_TIME = 253_402_300_800
MAX_NAME_CHARS = 64  # a device or dtype
MAX_TEXT_CHARS = 4000  # a warning or an error


class DamagedLine(ValueError):
    """A progress line that is not what the worker writes; the message says what is wrong."""


@dataclass
class RunClock:
    """Where the current training run started, for the estimated finish."""

    started_time: float | None = None
    started_step: int = 0


@dataclass(frozen=True)
class Damage:
    """The first damaged line of a batch: where it starts and what is wrong with it."""

    offset: int
    problem: str


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
    succeeded: dict[str, Any] | None = None  # the "succeeded" line's checked fields
    failed: str | None = None  # the "failed" line's error
    final_line_offset: int | None = None  # where the succeeded or failed line starts
    damage: Damage | None = None  # the line the batch stops at

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
    them (blocking: call it in a thread). A missing file has no lines. A line longer than a
    whole read comes back as its first ``MAX_READ_BYTES``, which :func:`interpret` calls
    damaged."""
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        if len(data) == MAX_READ_BYTES:
            return [(offset, data)], offset + len(data)
        return [], offset
    lines, position = [], offset
    for raw in data[: end + 1].split(b"\n")[:-1]:
        lines.append((position, raw))
        position += len(raw) + 1
    return lines, position


def interpret(
    job: TrainerJob, lines: list[tuple[int, bytes]], offset: int, clock: RunClock, now: int
) -> ProgressBatch:
    """``now``: the time of events whose line has none. Stops at the first damaged line."""
    batch = ProgressBatch(offset=offset)
    for line_offset, raw in lines:
        try:
            _apply(job, _record(raw), line_offset, clock, batch, now)
        except DamagedLine as exc:
            log.warning("job %s: damaged progress line at byte %d: %s", job.id, line_offset, exc)
            batch.offset, batch.damage = line_offset, Damage(line_offset, str(exc))
            break
    return batch


def _record(raw: bytes) -> dict[str, Any]:
    if len(raw) >= MAX_READ_BYTES:
        raise DamagedLine(f"the line is longer than {MAX_READ_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedLine("the line is not UTF-8 text") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise DamagedLine(f"the line is not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise DamagedLine("the line is not a JSON object")
    return record


def _apply(
    job: TrainerJob,
    record: dict[str, Any],
    line_offset: int,
    clock: RunClock,
    batch: ProgressBatch,
    now: int,
) -> None:
    kind = record.get("type")
    line_time = _optional_number(record, "time", low=0, high=MAX_UNIX_TIME)
    when = int(line_time) if line_time is not None else now
    if kind == "started":
        _started(record, line_offset, line_time, when, clock, batch)
    elif kind == "metrics":
        step = _count(record, "step")
        total = _count(record, "total_steps")
        loss = _metric(record, "train_loss", required=True)
        data: dict[str, Any] = {
            "step": step,
            "total_steps": total,
            "train_loss": loss,
            "train_mean_token_accuracy": _metric(record, "train_mean_token_accuracy"),
        }
        if record.get("valid_loss") is not None:
            data["valid_loss"] = _metric(record, "valid_loss")
        batch.total_steps = total
        shown = "nan" if loss is None else f"{loss:.2f}"
        batch.events.append(
            _event(
                f"step:{step}",
                when,
                f"Step {step}/{total}: training loss={shown}",
                type_="metrics",
                data=data,
            )
        )
        batch.estimated_finish_unix = _estimate(clock, step, total, line_time)
    elif kind == "checkpoint":
        step = _count(record, "step")
        metrics = record.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise DamagedLine("metrics is not a JSON object")
        values = {key: _metric(metrics, key) for key in CHECKPOINT_METRICS}
        batch.checkpoints.append(
            TrainerCheckpoint(
                id=new_id(CHECKPOINT),
                job_id=job.id,
                step=step,
                metrics={key: value for key, value in values.items() if value is not None},
                model=checkpoint_model_name(job.model_name, step),
                created_unix=when,
            )
        )
        batch.events.append(
            _event(f"checkpoint:{step}", when, f"Checkpoint created at step {step}")
        )
    elif kind == "warning":
        message = _text(record, "message", MAX_TEXT_CHARS)
        # The same warning comes again when a run resumes: keyed by its text, it is kept once.
        digest = hashlib.sha256(message.encode()).hexdigest()[:16]
        batch.events.append(NewEvent(new_id(EVENT), f"warning:{digest}", when, message, "warn"))
    elif kind == "succeeded":
        batch.succeeded = {
            "trained_tokens": _optional_count(record, "trained_tokens"),
            "chars_per_second": _optional_number(record, "chars_per_second", low=0, high=MAX_COUNT),
            "peak_memory_bytes": _optional_count(record, "peak_memory_bytes"),
        }
        batch.final_line_offset = line_offset
    elif kind == "failed":
        batch.failed = _text(record, "error", MAX_TEXT_CHARS)
        batch.final_line_offset = line_offset
    else:
        raise DamagedLine(f"unknown line type {str(kind)[:40]!r}")


def _started(
    record: dict[str, Any],
    line_offset: int,
    line_time: float | None,
    when: int,
    clock: RunClock,
    batch: ProgressBatch,
) -> None:
    device = _text(record, "device", MAX_NAME_CHARS)
    dtype = _text(record, "dtype", MAX_NAME_CHARS)
    resumed = _optional_count(record, "resumed_from_step")
    data = {
        "device": device,
        "dtype": dtype,
        "examples": _count(record, "examples"),
        "total_steps": _count(record, "total_steps"),
        "n_epochs": _count(record, "n_epochs"),
        "trainable_parameters": _optional_count(record, "trainable_parameters"),
        "resumed_from_step": resumed,
    }
    batch.device, batch.dtype, batch.total_steps = device, dtype, data["total_steps"]
    clock.started_time = line_time if line_time is not None else float(when)
    clock.started_step = resumed or 0
    if resumed is None:
        message = (
            f"Job started on {device} ({dtype}): {data['examples']} examples,"
            f" {data['n_epochs']} epochs, {data['total_steps']} steps"
        )
    else:
        message = f"Job resumed on {device} ({dtype}) from the checkpoint at step {resumed}"
    batch.events.append(_event(f"started:{line_offset}", when, message, data=data))


def _event(
    key: str,
    when: int,
    message: str,
    *,
    type_: str = "message",
    data: dict[str, Any] | None = None,
) -> NewEvent:
    return NewEvent(new_id(EVENT), key, when, message, type=type_, data=data)


def _estimate(clock: RunClock, step: int, total: int, now: float | None) -> int | None:
    if clock.started_time is None or now is None or step <= clock.started_step:
        return None
    per_step = (now - clock.started_time) / (step - clock.started_step)
    return min(MAX_UNIX_TIME, int(now + per_step * max(0, total - step)))


# --- one field each -------------------------------------------------------------------------


def _count(record: dict[str, Any], key: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise DamagedLine(f"{key} is {_shown(value)}, not an integer from 0 to {MAX_COUNT}")
    return value


def _optional_count(record: dict[str, Any], key: str) -> int | None:
    return None if record.get(key) is None else _count(record, key)


def _optional_number(record: dict[str, Any], key: str, *, low: float, high: float) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise DamagedLine(f"{key} is {_shown(value)}, not a number from {low} to {high}")
    return float(value)


def _metric(record: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    """A loss or an accuracy: a number; NaN or infinity (a diverged training) is kept as None."""
    value = record.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DamagedLine(f"{key} is {_shown(value)}, not a number")
    return float(value) if math.isfinite(value) else None


def _text(record: dict[str, Any], key: str, max_chars: int) -> str:
    value = record.get(key)
    if not isinstance(value, str) or len(value) > max_chars:
        raise DamagedLine(f"{key} is {_shown(value)}, not a text of at most {max_chars} chars")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."
