"""Benchmark: a workshop's sheet to a robot's first answer with the shell alone, offline.

Run from the repository root::

    pip install -c requirements-dev.lock '.[gemma]'   # the packaged Gemma 3 270M
    python bench/no_cloud_path.py [--rows 30] [--converted FOLDER] [--keep DIR]

Every stage is the real command a new workshop runs (README), in a fresh working folder whose
``.env`` is the shipped ``.env.example`` (relative ``DATA_DIR=data``, no Discord token, no OpenAI
key); only the ports are moved. The sheet is bench/character_sheet.py's Stack-chan (answers end
in "…だっちゃ！"), ``--rows`` rows of it. Stages, each timed:

1. ``python -m bot template sheet.xlsx``, then the rows written in (openpyxl, as a volunteer);
2. ``python -m bot augment sheet.xlsx --method duplicate``;
3. the packaged Gemma converted for training (``python -m trainer.gemma_package``): once per
   machine, so reported apart; ``--converted FOLDER`` copies an earlier conversion instead;
4. ``python -m bot train robot.jsonl --base-model gemma-3-270m`` (kobo's trainer, epochs auto);
5. ``python -m bot robots key 4`` and ``python -m bot robots assign 4 MODEL``;
6. ``python -m bot`` until its device API answers;
7. the robot's first sentence (AI_StackChan_Ex's request, the current firmware): the GGUF export
   of the base and the adapter and the engine's start are in it;
8. the next sentences, as a class then hears them.

Target (issue #16): sheet to the first answer within 10 minutes on a quiet 2-core machine,
conversion included. Also shown: whether the held-out answers are in the character's style.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import aiohttp  # noqa: E402

from bench.character_sheet import SYSTEM, held_out_questions, in_style, training_examples  # noqa: E402
from tests.bot.kobo_process import free_port  # noqa: E402
from tests.gateway import stackchan_ex  # noqa: E402
from tests.shell_path import (  # noqa: E402
    fill_sheet,
    new_workshop,
    run_kobo,
    shell_environment,
    start_kobo,
    stop_kobo,
    wait_for_robots,
)

TARGET_SECONDS = 600
CEILING_SECONDS = 1800  # one stage, before the bench gives up on it
ROBOT = "4"


class Stages:
    """Each stage's wall time, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    async def run(self, name: str, work: Path, env: dict[str, str], *args: str) -> str:
        started = time.monotonic()
        status, out, err = await run_kobo(work, env, *args, ceiling=CEILING_SECONDS)
        self.seconds[name] = time.monotonic() - started
        if status != 0:
            sys.exit(f"{name} failed ({status}):\n{err}")
        return out


def sheet_rows(count: int) -> list[tuple[str, str]]:
    examples = training_examples(count)
    return [(e["messages"][1]["content"], e["messages"][2]["content"]) for e in examples]


async def convert_base(work: Path, env: dict[str, str], converted: Path | None) -> float:
    dest = work / "data" / "base-models" / "gemma-3-270m"
    started = time.monotonic()
    if converted is not None:
        shutil.copytree(converted, dest)
    else:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "trainer.gemma_package", str(dest), cwd=work, env=env
        )
        if await process.wait() != 0:
            sys.exit("the packaged Gemma could not be converted (pip install '.[gemma]')")
    return time.monotonic() - started


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="kobo-no-cloud-") as tmp:
        work = new_workshop((args.keep or Path(tmp)) / "workshop")
        port = free_port()
        env = shell_environment(
            TRAINER_PORT=str(free_port()), DEVICE_API_HOST="127.0.0.1", DEVICE_API_PORT=str(port)
        )
        stages = Stages()
        await stages.run("template", work, env, "template", "sheet.xlsx")
        fill_sheet(work / "sheet.xlsx", SYSTEM, sheet_rows(args.rows))
        await stages.run(
            "augment", work, env, "augment", "sheet.xlsx", "--method", "duplicate",
            "-o", "robot.jsonl",
        )  # fmt: skip
        conversion = await convert_base(work, env, args.converted)
        out = await stages.run(
            "train", work, env, "train", "robot.jsonl", "--base-model", "gemma-3-270m"
        )
        model = out.strip().splitlines()[-1]
        key = json.loads(await stages.run("key", work, env, "robots", "key", ROBOT, "--json"))
        await stages.run("assign", work, env, "robots", "assign", ROBOT, model)
        answers = await serve_and_ask(work, env, port, key["key"], stages, args.questions)
    report(args, stages, conversion, answers)


async def serve_and_ask(
    work: Path, env: dict[str, str], port: int, key: str, stages: Stages, count: int
) -> list[tuple[str, str, float]]:
    started = time.monotonic()
    bot = await start_kobo(work, env)
    answers: list[tuple[str, str, float]] = []
    try:
        await wait_for_robots(bot, port, CEILING_SECONDS)
        stages.seconds["start"] = time.monotonic() - started
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        async with aiohttp.ClientSession() as http:
            for question in held_out_questions(count):
                asked = time.monotonic()
                reply = await stackchan_ex.say(
                    http,
                    url,
                    key,
                    [{"role": "user", "content": question}],
                    firmware=stackchan_ex.CURRENT,
                )
                answers.append((question, reply.spoken, time.monotonic() - asked))
    finally:
        await stop_kobo(bot, CEILING_SECONDS)
    stages.seconds["first answer"] = answers[0][2]
    return answers


def report(
    args: argparse.Namespace,
    stages: Stages,
    conversion: float,
    answers: list[tuple[str, str, float]],
) -> None:
    total = sum(stages.seconds.values()) + conversion
    print(f"\n## Sheet to a robot's answer, no cloud ({args.rows} rows, packaged Gemma 3 270M)\n")
    print("| stage | seconds |\n|---|---|")
    print(f"| base model converted (once per machine) | {conversion:.1f} |")
    for name, seconds in stages.seconds.items():
        print(f"| {name} | {seconds:.1f} |")
    print(f"| **sheet to first answer** | **{total:.1f}** |")
    later = [seconds for _, _, seconds in answers[1:]]
    if later:
        print(f"\nnext {len(later)} answers: median {sorted(later)[len(later) // 2]:.2f} s")
    styled = sum(in_style(spoken) for _, spoken, _ in answers)
    print(f"held-out answers in the character's style: {styled}/{len(answers)}")
    for question, spoken, _ in answers[:5]:
        print(f"- {question} → {spoken}")
    verdict = "met" if total <= TARGET_SECONDS else "missed"
    print(f"\ntarget ≤ {TARGET_SECONDS} s: {verdict}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30, help="rows in the sheet (≤ 100)")
    parser.add_argument("--questions", type=int, default=6, help="held-out questions asked")
    parser.add_argument("--converted", type=Path, help="an earlier conversion to copy")
    parser.add_argument("--keep", type=Path, help="work here and keep the folder")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
