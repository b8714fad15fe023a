"""Benchmark: do robots keep answering while a model trains on the same machine?

Run from the repository root::

    pip install -c requirements-dev.lock '.[gemma]'    # the packaged Gemma 3 270M
    python bench/chat_while_training.py [--quick] [--requests 6] [--pause 1.0] [--modes ...]

kobo serves the packaged Gemma 3 270M (Q4_K_M GGUF, laid out as bench/gateway.py does) with its
embedded llama.cpp engine behind the device API. Four robots talk to it as AI_StackChan_Ex does
(tests/gateway/stackchan_ex.py: its three system messages, ``"stream": false``, the answer read
as the firmware reads it), each ``--requests`` times with ``--pause`` seconds between turns (a
child's turn). First with no training ("idle"), then while kobo's worker trains a LoRA (r16,
batch 4, the Gemma converted as bench/gemma_style.py does) started as the trainer's runner
starts it, in each mode:

- ``unprotected``: niceness 0, all threads, no "robots are chatting" file (kobo before #16);
- ``nice``: TRAINER_NICENESS 19 only;
- ``kobo``: what kobo does now, niceness 19 and the thread budget (trainer/cpu_share.py).

For each mode the training's speed is measured twice: alone, before the robots talk (with the
thread budget back at all threads), and while they talk. Targets (2 cores): with training,
answers' p95 at most 2x idle and at most 3 s; the training alone at most 30% slower than
unprotected.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after kobo: bench/gateway.py, bench/device_api.py

import aiohttp  # noqa: E402

from config.settings import DeviceApiSettings  # noqa: E402
from device_api.app import create_app  # noqa: E402
from device_api.server import bound_addresses, start_device_api, stop_device_api  # noqa: E402
from gateway.chatting import chatting_file  # noqa: E402
from gateway.keys import RobotKeys  # noqa: E402
from gateway.service import Gateway  # noqa: E402
from storage.assignments import AssignmentRepository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.robot_keys import RobotKeyRepository  # noqa: E402
from tests.gateway import stackchan_ex  # noqa: E402
from trainer.base_models import GEMMA_3_270M, GEMMA_CHAT_TEMPLATE  # noqa: E402
from trainer.runner import _lower_priority, _worker_environment  # noqa: E402  (its spawn)

# bench/gateway.py shares its name with kobo's gateway package: loaded under another name.
_spec = importlib.util.spec_from_file_location("bench_gateway", ROOT / "bench" / "gateway.py")
bench_gateway = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench_gateway  # its dataclasses look themselves up there
_spec.loader.exec_module(bench_gateway)
# After kobo's modules: gemma_style puts bench/ first on the path (bench/device_api.py...).
from character_sheet import training_examples  # noqa: E402
from gemma_style import GEMMA_FOLDER  # noqa: E402

ROBOTS = 4
QUESTIONS = ["こんにちは！", "すきなたべものはなに？", "きょうはなにしてあそぶ？", "ねこはすき？"]
MODES = {  # niceness, whether the worker sees the robots-chatting file
    "unprotected": (0, False),
    "nice": (19, False),
    "kobo": (19, True),
}
P95_TARGET_S = 3.0
P95_TARGET_RATIO = 2.0
SLOWDOWN_TARGET = 0.30


@dataclass
class Phase:
    answers: list[float] = field(default_factory=list)
    failures: int = 0
    chars_per_second_alone: float | None = None
    chars_per_second_chatting: float | None = None
    threads_chatting: set[int] = field(default_factory=set)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.answers)
        return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


async def robots_talk(http: aiohttp.ClientSession, url: str, keys: list[str], args) -> Phase:
    phase = Phase()

    async def robot(index: int, key: str) -> None:
        for turn in range(args.requests):
            history = [{"role": "user", "content": QUESTIONS[(index + turn) % len(QUESTIONS)]}]
            started = time.perf_counter()
            try:
                reply = await stackchan_ex.say(
                    http, url, key, history, firmware=stackchan_ex.CURRENT
                )
                failed = reply.spoken in (stackchan_ex.DONT_KNOW, stackchan_ex.ERROR)
            except (aiohttp.ClientError, TimeoutError):
                failed = True
            phase.answers.append(time.perf_counter() - started)
            phase.failures += failed
            await asyncio.sleep(args.pause)

    await asyncio.gather(*(robot(i, key) for i, key in enumerate(keys)))
    return phase


def convert_gemma(folder: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trainer.gemma_package", str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        sys.exit(done.stderr.strip())


def write_spec(job_dir: Path, model_dir: Path, examples: int) -> Path:
    job_dir.mkdir(parents=True)
    training = job_dir / "train.jsonl"
    training.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in training_examples(examples)),
        encoding="utf-8",
    )
    spec = {
        "job_id": "ftjob-" + "0" * 24,
        "model_name": f"ft:{GEMMA_3_270M}:kobo:bench:00000000",
        "base_model": {
            "name": GEMMA_3_270M,
            "source": str(model_dir),
            "chat_template": GEMMA_CHAT_TEMPLATE,
        },
        "training_file": str(training),
        "validation_file": None,
        "method": "lora",
        "hyperparameters": {
            "n_epochs": 50,  # never reached: the bench stops it
            "learning_rate": 1e-3,
            "lora_rank": 16,
            "batch_size": 4,
            "seed": 42,
        },
        "merge": False,
        "device": "cpu",
        "job_dir": str(job_dir),
        "model_dir": str(job_dir / "model"),
    }
    path = job_dir / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


class Training:
    """kobo's worker, started as trainer/runner.py starts it, and its progress lines."""

    def __init__(self, spec: Path, niceness: int, robots_chatting: Path):
        self.spec = spec
        self.niceness = niceness
        self.robots_chatting = robots_chatting
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        job_dir = self.spec.parent
        log = await asyncio.to_thread(open, job_dir / "worker.log", "ab")
        with log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "trainer.worker", str(self.spec),
                cwd=job_dir, env=_worker_environment(self.niceness, self.robots_chatting),
                stdin=asyncio.subprocess.PIPE, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        _lower_priority(self.process.pid, self.niceness)

    def metrics(self) -> list[dict[str, Any]]:
        path = self.spec.parent / "progress.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        failed = [line for line in lines if line["type"] == "failed"]
        if failed:
            raise SystemExit(f"training failed: {failed[0]['error']}")
        return [line for line in lines if line["type"] == "metrics"]

    async def steps(self, count: int, *, threads: int | None = None) -> list[dict[str, Any]]:
        """The next ``count`` metrics lines (with ``threads`` threads, when given)."""
        seen = len(self.metrics()) if (self.spec.parent / "progress.jsonl").exists() else 0
        while True:
            await asyncio.sleep(0.2)
            if not (self.spec.parent / "progress.jsonl").exists():
                continue
            fresh = self.metrics()[seen:]
            if threads is not None:
                fresh = [line for line in fresh if line["threads"] == threads]
            if len(fresh) >= count:
                return fresh[:count]
            assert self.process is not None and self.process.returncode is None

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            os.killpg(self.process.pid, 9)
            await self.process.wait()


def chars_per_second(lines: list[dict[str, Any]]) -> float | None:
    if len(lines) < 2:
        return None
    return (lines[-1]["chars"] - lines[0]["chars"]) / (lines[-1]["time"] - lines[0]["time"])


async def measure_mode(mode: str, spec: Path, data_dir: Path, talk, args) -> Phase:
    niceness, sees_chats = MODES[mode]
    signal = chatting_file(data_dir) if sees_chats else data_dir / "no-such-file"
    training = Training(spec, niceness, signal)
    await training.start()
    try:
        threads = os.cpu_count() or 1
        await training.steps(1, threads=threads)  # loaded and warm
        alone = await training.steps(args.steps, threads=threads)
        seen = len(training.metrics())
        phase = await talk()
        during = training.metrics()[seen:]
        phase.chars_per_second_alone = chars_per_second(alone)
        phase.chars_per_second_chatting = chars_per_second(during)
        phase.threads_chatting = {line["threads"] for line in during}
        return phase
    finally:
        await training.stop()
        # The next mode starts its own training afresh (no resuming from this one).
        (spec.parent / "progress.jsonl").unlink(missing_ok=True)
        shutil.rmtree(spec.parent / "checkpoints", ignore_errors=True)


async def main(args: argparse.Namespace) -> None:
    convert_gemma(args.model_dir)
    gguf = Path(args.gguf) if args.gguf else bench_gateway.packaged_gemma()
    results: dict[str, Phase] = {}
    engine_threads = None
    with tempfile.TemporaryDirectory(prefix="kobo-bench-chat-training-") as folder:
        data_dir = Path(folder) / "data"
        bench_gateway.lay_out(data_dir, gguf)
        settings = DeviceApiSettings(
            _env_file=None,
            database_path=data_dir / "kobo.sqlite3",
            data_dir=data_dir,
            device_api_host="127.0.0.1",
            device_api_port=0,
            local_engine_slots=ROBOTS,
            local_engine_context_tokens=1024,
            gateway_max_answer_tokens=args.max_tokens,
            log_level="WARNING",
        )
        db = await Database.open(settings.database_path)
        keys = RobotKeys(RobotKeyRepository(db))
        robot_keys = []
        for stack_id in range(1, ROBOTS + 1):
            await AssignmentRepository(db).assign(
                stack_id, bench_gateway.MODEL, by_id="0", by_name="bench"
            )
            robot_keys.append((await keys.issue(stack_id, by_id="0", by_name="bench")).key)
        gateway = Gateway(settings, db, settings.default_model)
        runner = await start_device_api(
            create_app(settings, db=db, gateway=gateway), "127.0.0.1", 0, access_log=None
        )
        host, port = bound_addresses(runner)[0]
        url = f"http://{host}:{port}/v1/chat/completions"
        spec = write_spec(Path(folder) / "job", args.model_dir, args.examples)
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True),  # as the firmware connects
                timeout=aiohttp.ClientTimeout(total=120),
            ) as http:

                async def talk() -> Phase:
                    return await robots_talk(http, url, robot_keys, args)

                await robots_talk(
                    http, url, robot_keys[:1], argparse.Namespace(requests=1, pause=0)
                )
                engine_threads = engine_thread_count(gateway)
                results["idle"] = await talk()
                for mode in args.modes:
                    results[mode] = await measure_mode(mode, spec, data_dir, talk, args)
                    print(f"({mode} measured)", file=sys.stderr)
        finally:
            await stop_device_api(runner)
            await gateway.close()
            await db.close()
    report(results, args, engine_threads)


def engine_thread_count(gateway: Gateway) -> int | None:
    engines = getattr(gateway._engines, "_engines", {})  # diagnostics only
    for engine in engines.values():
        return len(os.listdir(f"/proc/{engine.process.pid}/task"))
    return None


def report(results: dict[str, Phase], args: argparse.Namespace, engine_threads: int | None) -> None:
    idle = results["idle"]
    idle_p95 = idle.percentile(0.95)
    unprotected = results.get("unprotected")
    baseline = unprotected.chars_per_second_alone if unprotected else None
    print(
        f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end;"
        f" {ROBOTS} robots x {args.requests} turns, {args.pause:.1f} s pause, answers <="
        f" {args.max_tokens} tokens; LoRA r16 batch 4 on Gemma 3 270M; engine process threads:"
        f" {engine_threads}\n"
    )
    print(
        "| training | answers | failed | p50 s | p95 s | max s | p95 / idle"
        " | training chars/s alone | while robots talk | threads while talking |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode, phase in results.items():
        p95 = phase.percentile(0.95)
        alone = _number(phase.chars_per_second_alone)
        if baseline and phase.chars_per_second_alone and mode != "unprotected":
            alone += f" ({phase.chars_per_second_alone / baseline - 1:+.0%})"
        threads = ",".join(str(t) for t in sorted(phase.threads_chatting)) or "-"
        print(
            f"| {mode if mode != 'idle' else 'none (idle)'} | {len(phase.answers)}"
            f" | {phase.failures} | {statistics.median(phase.answers):.2f} | {p95:.2f}"
            f" | {max(phase.answers):.2f} | {p95 / idle_p95:.1f}x | {alone}"
            f" | {_number(phase.chars_per_second_chatting)} | {threads} |"
        )
    kobo = results.get("kobo")
    if kobo:
        p95 = kobo.percentile(0.95)
        ok = p95 <= min(P95_TARGET_RATIO * idle_p95, P95_TARGET_S)
        print(
            f"\nkobo: answers p95 {p95:.2f} s vs idle {idle_p95:.2f} s (target <="
            f" {P95_TARGET_RATIO:.0f}x and <= {P95_TARGET_S:.0f} s): {'met' if ok else 'missed'}"
        )
        if baseline and kobo.chars_per_second_alone:
            slower = 1 - kobo.chars_per_second_alone / baseline
            print(
                f"kobo: training alone {slower:+.0%} slower than unprotected (target <="
                f" {SLOWDOWN_TARGET:.0%}): {'met' if slower <= SLOWDOWN_TARGET else 'missed'}"
            )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 turns, 4 steps, 2 modes")
    parser.add_argument("--requests", type=int, default=8, help="turns per robot")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between turns")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--steps", type=int, default=8, help="training steps timed alone")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--model-dir", type=Path, default=GEMMA_FOLDER)
    parser.add_argument("--gguf", help="the GGUF to serve (default: the packaged Gemma)")
    ARGS = parser.parse_args()
    if ARGS.quick:
        ARGS.requests, ARGS.steps, ARGS.modes = 3, 4, ["unprotected", "kobo"]
    asyncio.run(main(ARGS))
