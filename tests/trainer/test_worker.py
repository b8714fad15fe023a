"""The training process, run as the runner runs it: ``python -m trainer.worker spec.json``."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from finetune.results import parse_metrics_csv
from tests.ceilings import PROCESS_SECONDS
from tests.trainer.jobs import (
    SYSTEM,
    chat_examples,
    progress_lines,
    run_worker,
    start_worker,
    wait_for_line,
    write_jsonl,
    write_spec,
)
from trainer.worker import EXIT_RUNNER_GONE, main

EPOCHS = 3
STEPS_PER_EPOCH = 6  # 24 examples, 4 per batch


@dataclass
class Trained:
    spec: Path
    job_dir: Path
    model_dir: Path
    returncode: int
    lines: list[dict[str, Any]]


def job_spec(tmp: Path, base: Path, name: str, **more: Any) -> Path:
    training = write_jsonl(tmp / "train.jsonl", chat_examples(24))
    validation = write_jsonl(tmp / "valid.jsonl", chat_examples(6))
    return write_spec(
        tmp / name,
        base=base,
        training_file=training,
        validation_file=validation,
        n_epochs=EPOCHS,
        models_dir=tmp / f"{name}-models",
        **more,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Trained:
    """One uninterrupted LoRA job with a validation file and a merged model."""
    tmp = tmp_path_factory.mktemp("lora")
    spec = job_spec(tmp, tiny_base, "job", merge=True)
    returncode, lines = run_worker(spec)
    model_dir = Path(json.loads(spec.read_text())["model_dir"])
    return Trained(spec, spec.parent, model_dir, returncode, lines)


def of_type(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == kind]


def test_a_job_reports_started_every_step_each_epoch_and_success_in_order(trained: Trained):
    assert trained.returncode == 0
    epoch = ["metrics"] * STEPS_PER_EPOCH + ["checkpoint"]
    assert [line["type"] for line in trained.lines] == ["started", *epoch * EPOCHS, "succeeded"]

    started = trained.lines[0]
    assert started["device"] == "cpu" and started["dtype"] == "float32"
    assert started["examples"] == 24 and started["n_epochs"] == EPOCHS
    assert started["total_steps"] == EPOCHS * STEPS_PER_EPOCH
    assert started["trainable_parameters"] > 0 and started["resumed_from_step"] is None

    metrics = of_type(trained.lines, "metrics")
    assert [m["step"] for m in metrics] == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    assert [m["epoch"] for m in metrics] == [e for e in (1, 2, 3) for _ in range(STEPS_PER_EPOCH)]
    tokens = [m["tokens"] for m in metrics]
    chars = [m["chars"] for m in metrics]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
    assert chars == sorted(chars) and len(set(chars)) == len(chars)
    assert all(0 <= m["train_mean_token_accuracy"] <= 1 for m in metrics)
    # The model learns the catch phrase: the loss of the last epoch is far below the first's.
    first, last = metrics[:STEPS_PER_EPOCH], metrics[-STEPS_PER_EPOCH:]
    mean = lambda rows: sum(m["train_loss"] for m in rows) / len(rows)  # noqa: E731
    assert mean(last) < 0.7 * mean(first)

    checkpoints = of_type(trained.lines, "checkpoint")
    assert [c["step"] for c in checkpoints] == [6, 12, 18]
    assert [c["epoch"] for c in checkpoints] == [1, 2, 3]
    assert all(c["metrics"]["valid_loss"] > 0 for c in checkpoints)
    assert checkpoints[-1]["metrics"]["valid_loss"] < checkpoints[0]["metrics"]["valid_loss"]

    succeeded = trained.lines[-1]
    assert succeeded["trained_tokens"] == tokens[-1]
    assert succeeded["chars_per_second"] > 0 and succeeded["peak_memory_bytes"] > 0


def test_results_csv_has_every_step_and_the_validation_loss_at_each_epoch(trained: Trained):
    text = (trained.job_dir / "results.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    )
    rows = parse_metrics_csv(text)
    metrics = of_type(trained.lines, "metrics")
    assert [row.step for row in rows] == [m["step"] for m in metrics]
    assert [row.train_loss for row in rows] == pytest.approx([m["train_loss"] for m in metrics])
    assert [row.step for row in rows if row.valid_loss is not None] == [6, 12, 18]


def test_each_epoch_leaves_a_checkpoint_and_only_the_newest_keeps_the_optimizer(
    trained: Trained,
):
    folders = sorted((trained.job_dir / "checkpoints").iterdir())
    assert [f.name for f in folders] == ["step-12", "step-18", "step-6"]
    for folder in folders:
        assert (folder / "adapter" / "adapter_model.safetensors").is_file()
    assert [f.name for f in folders if (f / "optimizer.pt").exists()] == ["step-18"]


def test_the_model_folder_describes_the_model_and_its_adapter_generates(
    trained: Trained, tiny_base: Path
):
    described = json.loads((trained.model_dir / "kobo-model.json").read_text(encoding="utf-8"))
    assert described["model"] == "ft:tiny:kobo:test:01234567"
    assert described["job_id"] == trained.model_dir.name
    assert described["base_model"] == "tiny" and described["base_source"] == str(tiny_base)
    assert described["method"] == "lora" and described["system_prompt"] == SYSTEM
    assert "<|im_start|>" in described["chat_template"]
    assert isinstance(described["created_at"], int)
    assert not (trained.model_dir / "full").exists()

    tokenizer = AutoTokenizer.from_pretrained(trained.model_dir / "adapter")
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base), trained.model_dir / "adapter"
    )
    prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "好きな食べ物は?"}]
    ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
    out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids.shape[1]

    # The merged model is the base with the adapter folded in: the same logits.
    merged = AutoModelForCausalLM.from_pretrained(trained.model_dir / "merged")
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, model(ids).logits, atol=1e-4)
        base = AutoModelForCausalLM.from_pretrained(tiny_base)
        assert not torch.allclose(base(ids).logits, model(ids).logits, atol=1e-4)


def test_a_killed_job_resumes_from_its_last_checkpoint_and_ends_as_if_never_stopped(
    trained: Trained, tiny_base: Path, tmp_path: Path
):
    spec = job_spec(tmp_path, tiny_base, "job", merge=True)
    process = start_worker(spec)
    try:
        wait_for_line(process, spec.parent, "checkpoint")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdin.close()
    before = progress_lines(spec.parent)
    assert not of_type(before, "succeeded"), "the job ended before it could be killed"
    last_checkpoint = of_type(before, "checkpoint")[-1]["step"]

    returncode, lines = run_worker(spec)

    assert returncode == 0
    after = lines[len(before) :]
    assert after[0]["type"] == "started"
    assert after[0]["resumed_from_step"] == last_checkpoint
    resumed = of_type(after, "metrics")
    assert resumed[0]["step"] == last_checkpoint + 1
    expected = {m["step"]: m for m in of_type(trained.lines, "metrics")}
    for line in resumed:
        reference = expected[line["step"]]
        assert line["train_loss"] == pytest.approx(reference["train_loss"], rel=1e-5)
        assert line["tokens"] == reference["tokens"] and line["chars"] == reference["chars"]
    assert after[-1]["type"] == "succeeded"
    assert after[-1]["trained_tokens"] == trained.lines[-1]["trained_tokens"]
    rows = parse_metrics_csv((spec.parent / "results.csv").read_text(encoding="utf-8"))
    assert [r.step for r in rows] == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))


def test_the_worker_dies_when_the_runner_closes_its_stdin(tiny_base: Path, tmp_path: Path):
    training = write_jsonl(tmp_path / "train.jsonl", chat_examples(24))
    spec = write_spec(tmp_path / "job", base=tiny_base, training_file=training, n_epochs=500)
    process = start_worker(spec)
    try:
        wait_for_line(process, spec.parent, "metrics")
        process.stdin.close()  # what the OS does when the runner dies
        process.wait(timeout=PROCESS_SECONDS)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == EXIT_RUNNER_GONE
    kinds = {line["type"] for line in progress_lines(spec.parent)}
    assert "succeeded" not in kinds and "failed" not in kinds


@pytest.mark.usefixtures("torch_threads")
def test_full_fine_tuning_writes_the_whole_model(tiny_base: Path, tmp_path: Path):
    # In this process (the protocol is covered above): it saves starting one more.
    training = write_jsonl(tmp_path / "train.jsonl", chat_examples(8))
    spec = write_spec(
        tmp_path / "job",
        base=tiny_base,
        training_file=training,
        method="full",
        n_epochs=1,
        learning_rate=1e-3,
        merge=True,
    )
    assert main([str(spec)]) == 0
    lines = progress_lines(spec.parent)

    model_dir = Path(json.loads(spec.read_text())["model_dir"])
    # The whole model is already "merged": no second copy.
    assert {p.name for p in model_dir.iterdir()} == {"full", "kobo-model.json"}
    described = json.loads((model_dir / "kobo-model.json").read_text(encoding="utf-8"))
    assert described["method"] == "full"
    trained = AutoModelForCausalLM.from_pretrained(model_dir / "full")
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    assert AutoTokenizer.from_pretrained(model_dir / "full").chat_template
    assert lines[0]["trainable_parameters"] == sum(p.numel() for p in base.parameters())
    changed = [
        name
        for (name, after), (_, before) in zip(
            trained.named_parameters(), base.named_parameters(), strict=True
        )
        if not torch.equal(after, before)
    ]
    assert changed, "full fine-tuning changed no weight"
    assert (spec.parent / "checkpoints" / "step-2" / "full" / "config.json").is_file()
