"""Peak memory of kobo's training process for one long example (issue #15, item 5).

    python bench/trainer_memory.py [--sizes 2,10,50] [--code DIR] [--timeout 90]

A training file of 8 short examples and one whose answer is SIZE MB is trained (1 epoch, LoRA,
batch 4) by ``python -m trainer.worker`` on the tiny model the tests build, in its own process.
Its peak RSS is the kernel's high-water mark for it, VmHWM, read every 10 ms while it runs (not
``wait4``'s ru_maxrss, which also counts this parent's memory from before the exec). The first
row is the baseline, the short examples alone; one more row has an example just under
MAX_EXAMPLE_BYTES, the longest the trainer takes. --code runs another checkout's trainer (e.g.
the code before the fix) on the same files.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.trainer.jobs import chat_examples, write_spec  # noqa: E402
from tests.trainer.tiny_models import build_tiny_model  # noqa: E402
from trainer.chat_data import MAX_EXAMPLE_BYTES  # noqa: E402

MIB = 1 << 20


def training_file(path: Path, answer_bytes: int) -> Path:
    """8 short examples, the 4th line an example whose answer is ``answer_bytes`` of "a"."""
    lines = [json.dumps(e, ensure_ascii=False) + "\n" for e in chat_examples(8)]
    with path.open("w", encoding="utf-8") as file:
        file.writelines(lines[:3])
        if answer_bytes:
            head, _, tail = json.dumps(chat_examples(1)[0], ensure_ascii=False).rpartition('"')
            head, _, _ = head.rpartition('"')
            file.write(head + '"')
            for start in range(0, answer_bytes, MIB):  # never the whole answer in memory
                file.write("a" * min(MIB, answer_bytes - start))
            file.write('"' + tail + "\n")
        file.writelines(lines[3:])
    return path


def peak_of_run(spec: Path, code: Path, timeout: float) -> tuple[str, float, int]:
    """The outcome, the seconds and the peak RSS in bytes of one training process."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer.worker", str(spec)],
        stdin=subprocess.PIPE,  # held open: the worker ends when it closes
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=spec.parent,
        env=env,
    )
    high_water, killed = 0, False
    while True:
        high_water = max(high_water, _vm_hwm(process.pid))
        if process.poll() is not None:
            break
        if time.monotonic() - started > timeout and not killed:
            process.kill()
            killed = True
        time.sleep(0.01)
    seconds = time.monotonic() - started
    process.stdin.close()
    return (f"killed at {timeout:.0f} s" if killed else _outcome(spec.parent)), seconds, high_water


def _vm_hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _outcome(job_dir: Path) -> str:
    lines = (job_dir / "progress.jsonl").read_text().splitlines()
    last = json.loads(lines[-1]) if lines else {"type": "no progress"}
    if last["type"] == "failed":
        return "refused: " + last["error"][:60]
    return last["type"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,10,50", help="MB of the long answer, comma-separated")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose worker runs")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds a run may take")
    args = parser.parse_args()
    answers = [0, MAX_EXAMPLE_BYTES - 1024] + [
        int(float(s) * 1_000_000) for s in args.sizes.split(",")
    ]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        base = build_tiny_model(folder / "tiny")
        print(f"code: {args.code}   MAX_EXAMPLE_BYTES (this checkout): {MAX_EXAMPLE_BYTES:,}")
        print(f"{'long answer':>14}  {'peak RSS':>10}  {'seconds':>8}  outcome")
        for index, answer in enumerate(answers):
            job = folder / f"job-{index}"
            job.mkdir()
            training = training_file(job / "train.jsonl", answer)
            spec = write_spec(job / "run", base=base, training_file=training, n_epochs=1)
            outcome, seconds, peak = peak_of_run(spec, args.code, args.timeout)
            shown = "(baseline)" if not answer else f"{answer / 1_000_000:.3f} MB"
            print(f"{shown:>14}  {peak / MIB:>6.0f} MiB  {seconds:>8.1f}  {outcome}", flush=True)


if __name__ == "__main__":
    main()
