"""Benchmark /train's planning (checks, token counts, estimate) on big attachments.

    python bench/train_plan.py [--mb 50]

Each file is written to a temporary folder first; a fresh subprocess then reads it and runs
``prepare_plan`` for gpt-4o-mini (65,536 tokens per example), so "peak RSS" is the planning's own
high-water mark (the interpreter and the file included; the files are written by another
subprocess, since a child inherits its parent's high-water mark). Files, all --mb megabytes:

- one word: a single example whose user message is one run of random letters (the attack: before
  the bound, tiktoken spent minutes and gigabytes on it);
- words under the cap: examples of one word each, just under 65,536 x 128 characters, the most an
  example may have before it is refused without counting;
- sentences: ordinary Japanese/English chat examples, what a big real file looks like.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "gpt-4o-mini-2024-07-18"
CAP_CHARS = 65_536 * 128
FILES = {
    "one word": "one-word.jsonl",
    "words under the cap": "under-cap.jsonl",
    "sentences": "sentences.jsonl",
}

CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from finetune.models import default_model_table
from finetune.plan import TrainingParams, prepare_plan
data = open(sys.argv[2], "rb").read()
start = time.perf_counter()
plan = prepare_plan(data, training_filename="t.jsonl", params=TrainingParams(sys.argv[3]),
                    models=default_model_table())
seconds = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "problems": plan.problem_count,
                  "warnings": len(plan.warnings), "examples": plan.training.valid_examples}))
"""


def example(user: str, assistant: str = "ok") -> str:
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return json.dumps({"messages": messages}, ensure_ascii=False)


LETTERS = bytes(ord(string.ascii_lowercase[i % 26]) for i in range(256))


def random_word(chars: int, rng: random.Random) -> str:
    return rng.randbytes(chars).translate(LETTERS).decode("ascii")


def write_files(folder: Path, size: int) -> None:
    rng = random.Random(0)
    padding = "\n".join(example(f"q{i}") for i in range(10)) + "\n"  # OpenAI's minimum of 10
    path = folder / FILES["one word"]
    path.write_text(example(random_word(size, rng)) + "\n" + padding, encoding="utf-8")

    path = folder / FILES["words under the cap"]
    with path.open("w", encoding="utf-8") as out:
        word = random_word(CAP_CHARS - 100, rng)
        for _ in range(max(1, size // CAP_CHARS)):
            out.write(example(word) + "\n")
        out.write(padding)

    path = folder / FILES["sentences"]
    with path.open("w", encoding="utf-8") as out:
        written = 0
        while written < size:
            line = example(
                f"公園で{rng.randint(1, 99)}匹の犬と遊びたい。Can we play ball today?",
                "いいね！ぼくも行きたいな。Let's go to the park after lunch.",
            )
            out.write(line + "\n")
            written += len(line.encode()) + 1


def run(path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(path), MODEL],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="size of each file (default 50)")
    parser.add_argument("--write-to", type=Path, help=argparse.SUPPRESS)  # the writing child
    args = parser.parse_args()
    if args.write_to:
        write_files(args.write_to, args.mb * 1_000_000)
        return
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, __file__, "--mb", str(args.mb), "--write-to", tmp]
        subprocess.run(command, check=True)
        files = {name: Path(tmp) / filename for name, filename in FILES.items()}
        print(f"{'file':<22}{'MB':>6}{'seconds':>9}{'peak RSS':>10}  outcome")
        for name, path in files.items():
            result = run(path)
            outcome = (
                f"{result['problems']} problem(s), {result['warnings']} warning(s), "
                f"{result['examples']} examples counted"
            )
            print(
                f"{name:<22}{path.stat().st_size / 1e6:>6.1f}{result['seconds']:>9.1f}"
                f"{result['peak_mib']:>7.0f} MiB  {outcome}"
            )


if __name__ == "__main__":
    main()
