"""Reading progress.jsonl: only complete lines, each field checked (a damaged line ends the batch
and says where and why), repeats keyed alike."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from storage.trainer import TrainerJob
from trainer.progress import MAX_READ_BYTES, RunClock, interpret, read_complete_lines

JOB = TrainerJob(
    id="ftjob-" + "a" * 24,
    base_model="tiny",
    model_name="ft:tiny:kobo::aaaaaaaa",
    training_file="file-1",
    validation_file=None,
    suffix=None,
    seed=1,
    method="lora",
    hyperparameters={},
    merge=False,
    metadata=None,
    status="running",
    created_unix=1,
)


def metrics(step: int) -> dict[str, object]:
    return {"type": "metrics", "step": step, "total_steps": 4, "epoch": 1, "train_loss": 1.5,
            "train_mean_token_accuracy": 0.5, "tokens": 10 * step, "chars": 20 * step,
            "time": 100 + step}  # fmt: skip


def test_a_line_still_being_written_is_left_for_the_next_read(tmp_path: Path):
    path = tmp_path / "progress.jsonl"
    first = json.dumps(metrics(1)) + "\n"
    path.write_text(first + json.dumps(metrics(2))[:20], encoding="utf-8")
    lines, end = read_complete_lines(path, 0)
    assert [raw for _, raw in lines] == [first.strip().encode()] and end == len(first)
    assert read_complete_lines(path, end) == ([], end)
    assert read_complete_lines(tmp_path / "missing.jsonl", 0) == ([], 0)


def test_the_first_damaged_line_ends_the_batch_and_says_where_and_why(caplog):
    lines = [
        (0, json.dumps(metrics(1)).encode()),
        (50, json.dumps({"type": "checkpoint", "step": -1}).encode()),
        (90, json.dumps(metrics(3)).encode()),
    ]
    with caplog.at_level(logging.WARNING, logger="trainer.progress"):
        batch = interpret(JOB, lines, 130, RunClock(), now=500)
    assert [e.message for e in batch.events] == ["Step 1/4: training loss=1.50"]
    assert batch.checkpoints == []
    assert batch.offset == 50 and batch.damage.offset == 50
    assert "step is -1" in batch.damage.problem
    assert [r.getMessage() for r in caplog.records] == [
        f"job {JOB.id}: damaged progress line at byte 50: {batch.damage.problem}"
    ]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"type": "checkpoint", "step": -1}', "step is -1"),
        (b'{"type": "checkpoint", "step": 1e400}', "step is inf"),
        (b'{"type": "metrics", "step": "two", "total_steps": 4, "train_loss": 1}', "step is 'two'"),
        (b'{"type": "metrics", "step": true, "total_steps": 4, "train_loss": 1}', "step is True"),
        (b'{"type": "metrics", "step": 2, "total_steps": 4, "train_loss": 1, "time": 1e30}',
         "time is 1e+30"),
        (b'{"type": "checkpoint", "step": 2, "metrics": {"train_loss": "low"}}', "train_loss"),
        (b'{"type": "succeeded", "trained_tokens": 100000000000000000000000}', "trained_tokens"),
        (b'{"type": "failed", "error": null}', "error is None"),
        (b'{"type": "warning", "message": "' + b"x" * 5000 + b'"}', "at most 4000"),
        (b'{"type": "teleport"}', "unknown line type 'teleport'"),
        (b"\xff\xfe garbage \x00", "not UTF-8"),
        (b'{"type": "metrics", "step": 3, "tot', "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"x" * MAX_READ_BYTES, "longer than 1,048,576 bytes"),
    ],
)  # fmt: skip
def test_each_kind_of_damage_is_named(raw: bytes, problem: str):
    batch = interpret(JOB, [(7, raw)], 7 + len(raw) + 1, RunClock(), now=1)
    assert batch.damage is not None and problem in batch.damage.problem
    assert (batch.offset, batch.events, batch.checkpoints) == (7, [], [])


def test_a_diverged_loss_is_recorded_without_a_value():
    line = json.dumps({**metrics(2), "train_loss": float("nan")}).encode()
    batch = interpret(JOB, [(0, line)], len(line) + 1, RunClock(), now=1)
    assert batch.damage is None
    assert batch.events[0].message == "Step 2/4: training loss=nan"
    assert batch.events[0].data["train_loss"] is None


def test_a_line_longer_than_a_read_comes_back_to_be_called_damaged(tmp_path: Path):
    path = tmp_path / "progress.jsonl"
    path.write_bytes(b"x" * (MAX_READ_BYTES + 10) + b"\n")
    lines, end = read_complete_lines(path, 0)
    assert [(offset, len(raw)) for offset, raw in lines] == [(0, MAX_READ_BYTES)]
    assert end == MAX_READ_BYTES


def test_a_step_trained_again_after_resuming_has_the_same_key():
    first = interpret(JOB, [(0, json.dumps(metrics(2)).encode())], 1, RunClock(), now=1)
    again = interpret(JOB, [(900, json.dumps(metrics(2)).encode())], 901, RunClock(), now=2)
    assert first.events[0].dedupe_key == again.events[0].dedupe_key == "step:2"
    assert first.events[0].id != again.events[0].id
