"""Reading progress.jsonl: only complete lines, malformed ones skipped, repeats keyed alike."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from storage.trainer import TrainerJob
from trainer.progress import RunClock, interpret, read_complete_lines

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


def test_malformed_lines_are_logged_and_skipped_and_the_rest_recorded(caplog):
    lines = [
        (0, b"{not json"),
        (10, json.dumps({"type": "metrics", "step": "two"}).encode()),
        (50, json.dumps(metrics(3)).encode()),
        (90, json.dumps({"type": "teleport"}).encode()),
    ]
    with caplog.at_level(logging.WARNING, logger="trainer.progress"):
        batch = interpret(JOB, lines, 120, RunClock(), now=500)
    assert [e.message for e in batch.events] == ["Step 3/4: training loss=1.50"]
    assert batch.offset == 120
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3 and all(JOB.id in w for w in warnings)
    assert [w.split("byte ")[1].split(":")[0] for w in warnings] == ["0", "10", "90"]


def test_a_step_trained_again_after_resuming_has_the_same_key():
    first = interpret(JOB, [(0, json.dumps(metrics(2)).encode())], 1, RunClock(), now=1)
    again = interpret(JOB, [(900, json.dumps(metrics(2)).encode())], 901, RunClock(), now=2)
    assert first.events[0].dedupe_key == again.events[0].dedupe_key == "step:2"
    assert first.events[0].id != again.events[0].id
