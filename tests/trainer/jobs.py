"""Training jobs for the tests: chat JSONL, a worker spec, and the worker as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "あなたはスタックチャンです。"


def chat_examples(n: int, *, system: str | None = SYSTEM) -> list[dict[str, Any]]:
    """``n`` short Japanese Q/A examples whose answers all end with the same catch phrase."""
    foods = ["りんご", "カレー", "ラーメン", "バナナ", "パン"]
    examples = []
    for i in range(n):
        messages = [{"role": "system", "content": system}] if system else []
        messages += [
            {"role": "user", "content": f"好きな食べ物は何{i}?"},
            {"role": "assistant", "content": f"{foods[i % len(foods)]}が好きだっちゃ！"},
        ]
        examples.append({"messages": messages})
    return examples


def write_jsonl(path: Path, examples: list[dict[str, Any]]) -> Path:
    lines = [json.dumps(example, ensure_ascii=False) for example in examples]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_spec(
    job_dir: Path,
    *,
    base: Path | str,
    training_file: Path,
    validation_file: Path | None = None,
    method: str = "lora",
    n_epochs: int = 2,
    batch_size: int = 4,
    learning_rate: float | None = 3e-2,
    lora_rank: int = 4,
    seed: int = 42,
    merge: bool = False,
    models_dir: Path | None = None,
    **more: Any,
) -> Path:
    """Write ``job_dir/spec.json`` as the trainer's runner does; returns its path."""
    job_dir.mkdir(parents=True, exist_ok=True)
    job_id = "ftjob-" + "0123456789abcdef01234567"
    spec = {
        "job_id": job_id,
        "model_name": "ft:tiny:kobo:test:01234567",
        "base_model": {"name": "tiny", "source": str(base), "chat_template": None},
        "training_file": str(training_file),
        "validation_file": str(validation_file) if validation_file else None,
        "method": method,
        "hyperparameters": {
            "n_epochs": n_epochs,
            "learning_rate": learning_rate,
            "lora_rank": lora_rank,
            "batch_size": batch_size,
            "seed": seed,
        },
        "merge": merge,
        "device": "cpu",
        "job_dir": str(job_dir),
        "model_dir": str((models_dir or job_dir.parent / "models") / job_id),
        "threads": 1,
        **more,
    }
    path = job_dir / "spec.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return path


def start_worker(spec: Path) -> subprocess.Popen[bytes]:
    """``python -m trainer.worker spec.json`` with its stdin a pipe we hold, as the runner does."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (spec.parent / "stderr.log").open("ab") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "trainer.worker", str(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            cwd=spec.parent,
            env=environment,
        )


def run_worker(spec: Path, *, timeout: float = 120) -> tuple[int, list[dict[str, Any]]]:
    """Run the worker to its end; its exit code and progress lines."""
    process = start_worker(spec)
    try:
        process.wait(timeout=timeout)  # stdin stays open: closing it would end the worker
    finally:
        process.kill()
        process.stdin.close()
        process.wait()
    if process.returncode not in (0, 1):
        errors = (spec.parent / "stderr.log").read_text(encoding="utf-8", errors="replace")
        raise AssertionError(f"worker exited with {process.returncode}: {errors[-3000:]}")
    return process.returncode, progress_lines(spec.parent)


def progress_lines(job_dir: Path) -> list[dict[str, Any]]:
    """Complete lines of progress.jsonl (a line still being written is left out)."""
    path = job_dir / "progress.jsonl"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def wait_for_line(
    process: subprocess.Popen[bytes], job_dir: Path, kind: str, *, timeout: float = 60
) -> dict[str, Any]:
    """Poll progress.jsonl until a line of ``kind`` appears (the first such line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in progress_lines(job_dir):
            if line["type"] == kind:
                return line
        if process.poll() is not None:
            raise AssertionError(f"worker ended ({process.returncode}) before a {kind!r} line")
        time.sleep(0.005)
    raise AssertionError(f"no {kind!r} line within {timeout} s")
