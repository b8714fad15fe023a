"""Benchmark: ``/get_text`` throughput and latency against a bare aiohttp handler.

Needs Debian's ``wrk`` (HTTP load generator)::

    apt-get update && apt-get install -y wrk

Run from the repository root::

    python bench/device_api.py [--duration 6] [--rounds 3] [--connections 64]

Three servers run as subprocesses of this script, served the same way (one process each,
``start_device_api`` on 127.0.0.1, no access log):

* ``bare``: a handler returning a constant ``{"message":...}`` body, the ceiling;
* ``kobo``: the real app (JSON errors, stack id parsing, cached model table, last-seen recorder,
  flush every 5 s) on a database of 1,000 assigned robots;
* ``kobo, no last-seen``: the same with a recorder that drops sightings, to show that the
  last-seen bookkeeping is not what costs throughput.

wrk loads each with 64 connections and one thread, spreading requests over ids 1..1,000 (a Lua
script); rounds alternate between servers so that noise hits all of them alike. The script
also times ``LastSeenRecorder.record`` and a flush of 1,000 sightings directly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from aiohttp import web  # noqa: E402

from config.settings import DeviceApiSettings  # noqa: E402
from device_api.app import create_app  # noqa: E402
from device_api.server import bound_addresses, start_device_api, stop_device_api  # noqa: E402
from storage.assignments import AssignmentRepository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.last_seen import LastSeenRecorder  # noqa: E402

ROBOTS = 1_000
TARGET_RATIO = 0.8
MODES = {
    "bare": "bare aiohttp handler",
    "kobo": "kobo /get_text",
    "kobo-no-last-seen": "kobo, no last-seen",
}
WRK_SCRIPT = """
local requests = {}
init = function(args)
  for i = 1, %(robots)d do
    requests[i] = wrk.format("GET", "/get_text?number=" .. i)
  end
end
request = function()
  return requests[math.random(%(robots)d)]
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%%d duration_us=%%d errors=%%d non2xx=%%d p50_us=%%d p99_us=%%d\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


class DiscardingRecorder(LastSeenRecorder):
    """Drops every sighting: the ``kobo-no-last-seen`` row, for comparison only."""

    def record(self, stack_id: int, address: str | None) -> None:
        pass


def model_for(stack_id: int) -> str:
    return f"ft:gpt-4o-mini-2024-07-18:workshop:stack{stack_id}:B{stack_id:05d}"


# --- the servers (run as subprocesses: --serve MODE) ----------------------------------------


def bare_app() -> web.Application:
    body = b'{"message":"ft:gpt-4o-mini-2024-07-18:workshop:stack1:B00001"}'

    async def get_text(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/get_text", get_text)
    return app


async def serve(mode: str, db_path: Path) -> None:
    db = None
    if mode == "bare":
        app = bare_app()
    else:
        settings = DeviceApiSettings(
            _env_file=None, database_path=db_path, last_seen_flush_seconds=5.0
        )
        db = await Database.open(db_path)
        recorder = DiscardingRecorder(db) if mode == "kobo-no-last-seen" else None
        app = create_app(settings, db=db, recorder=recorder)
    runner = await start_device_api(app, "127.0.0.1", 0, access_log=None)
    print(f"PORT {bound_addresses(runner)[0][1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await stop_device_api(runner)
    if db is not None:
        await db.close()


# --- the driver ------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # server CPU time per request: less sensitive to other load on the box


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def make_database(path: Path) -> tuple[float, float]:
    """1,000 assigned robots that have all been seen; returns (record us, flush ms)."""
    db = await Database.open(path)
    try:
        repo = AssignmentRepository(db)
        for stack_id in range(1, ROBOTS + 1):
            await repo.assign(stack_id, model_for(stack_id), by_id="1", by_name="bench")
        recorder = LastSeenRecorder(db)
        started = time.perf_counter()
        for _ in range(20):
            for stack_id in range(1, ROBOTS + 1):
                recorder.record(stack_id, "127.0.0.1")
        record_us = (time.perf_counter() - started) / (20 * ROBOTS) * 1e6
        flushes = []
        for _ in range(5):
            for stack_id in range(1, ROBOTS + 1):
                recorder.record(stack_id, "127.0.0.1")
            started = time.perf_counter()
            await recorder.flush()
            flushes.append(time.perf_counter() - started)
        return record_us, statistics.median(flushes) * 1e3
    finally:
        await db.close()


def start_server(mode: str, db_path: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", mode, "--db", str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    line = process.stdout.readline()
    found = re.fullmatch(r"PORT (\d+)\n", line)
    if not found:
        process.kill()
        raise SystemExit(f"the {mode} server did not start (said {line!r})")
    return process, int(found.group(1))


def check_answers(port: int, mode: str) -> None:
    """Make sure we measure correct answers, not fast errors."""
    import urllib.request

    for stack_id in (1, 500, ROBOTS):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/get_text?number={stack_id}") as r:
            body = r.read()
        expected = model_for(1 if mode == "bare" else stack_id)
        if body != f'{{"message":"{expected}"}}'.encode():
            raise SystemExit(f"{mode} answered {body!r} for robot {stack_id}")


def run_wrk(pid: int, port: int, script: Path, seconds: int, connections: int) -> Result:
    cpu_before = cpu_seconds(pid)
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
    )
    cpu = cpu_seconds(pid) - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    out = done.stdout
    found = re.search(
        r"RESULT requests=(\d+) duration_us=(\d+) errors=(\d+) non2xx=(\d+)"
        r" p50_us=(\d+) p99_us=(\d+)",
        out,
    )
    if not found:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    requests, duration, errors, non2xx, p50, p99 = map(int, found.groups())
    return Result(
        requests / (duration / 1e6), p50 / 1e3, p99 / 1e3, errors + non2xx, cpu / requests * 1e6
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=6, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per server")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        asyncio.run(serve(args.serve, args.db))
        return
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed; on Debian: apt-get update && apt-get install -y wrk"
        )

    with tempfile.TemporaryDirectory(prefix="kobo-bench-") as tmp:
        db_path = Path(tmp) / "kobo.sqlite3"
        record_us, flush_ms = asyncio.run(make_database(db_path))
        script = Path(tmp) / "spread.lua"
        script.write_text(WRK_SCRIPT % {"robots": ROBOTS})
        servers = {mode: start_server(mode, db_path) for mode in MODES}
        results: dict[str, list[Result]] = {mode: [] for mode in MODES}
        try:
            for mode, (_, port) in servers.items():
                check_answers(port, mode)
            for _ in range(args.rounds):
                for mode, (process, port) in servers.items():
                    run_wrk(process.pid, port, script, 1, args.connections)  # warm up
                    results[mode].append(
                        run_wrk(process.pid, port, script, args.duration, args.connections)
                    )
        finally:
            for process, _ in servers.values():
                process.send_signal(signal.SIGTERM)
            for process, _ in servers.values():
                process.wait(timeout=30)

    print_report(results, args, record_us, flush_ms)


def print_report(results, args, record_us: float, flush_ms: float) -> None:
    def median(mode: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in results[mode])

    bare_rps = median("bare", "rps")
    print(
        f"\n/get_text, {ROBOTS} robots, wrk -t1 -c{args.connections}, "
        f"{args.rounds} x {args.duration} s per server (medians), {os.cpu_count()} CPUs\n"
    )
    bare_cpu = median("bare", "cpu_us")
    print(
        f"{'server':<24}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'vs bare':>9}"
        f"{'CPU us/req':>12}{'vs bare':>9}"
    )
    for mode, label in MODES.items():
        errors = sum(r.errors for r in results[mode])
        print(
            f"{label:<24}{median(mode, 'rps'):>9.0f}{median(mode, 'p50_ms'):>8.2f}"
            f"{median(mode, 'p99_ms'):>8.2f}{errors:>7}{median(mode, 'rps') / bare_rps:>8.2f}x"
            f"{median(mode, 'cpu_us'):>12.1f}{bare_cpu / median(mode, 'cpu_us'):>8.2f}x"
        )
    ratio = median("kobo", "rps") / bare_rps
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"\nkobo / bare throughput = {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)")
    print(
        "CPU 'vs bare' = bare's CPU per request / this server's: the throughput ratio a"
        " server would reach with a core to itself"
    )
    print(
        f"last-seen: record() {record_us:.2f} us per request; flush of {ROBOTS} sightings "
        f"{flush_ms:.1f} ms, once per 5 s = {flush_ms / 5000 * 100:.2f}% of the loop"
    )


if __name__ == "__main__":
    main()
