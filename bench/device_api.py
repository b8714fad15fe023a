"""Benchmark: ``/get_text`` throughput and CPU per request against a bare aiohttp handler.

Needs Debian's ``wrk`` (HTTP load generator)::

    apt-get update && apt-get install -y wrk

Run from the repository root::

    python bench/device_api.py [--duration 6] [--rounds 3] [--connections 64]

Each server runs in its own process on 127.0.0.1 with no access log. The first is the ceiling,
the last is kobo; the rows between add kobo's work to the bare handler one step at a time, so
the differences between consecutive rows say where kobo's extra CPU per request goes:

* ``bare``: a handler returning a constant ``{"message":...}`` body, aiohttp's own runner;
* ``bare, kobo's server``: the same handler behind kobo's connection limits (protocol.py);
* ``+ number``: also reads the robot's number from the query (``views.firmware_number``; the
  general ``parse_stack_id`` path is for queries the firmware does not send);
* ``+ model lookup``: answers from kobo's in-memory model table (``ModelDirectory``) instead of
  the constant body;
* ``+ last-seen``: also records the sighting (``LastSeenRecorder.record``);
* ``kobo``: the real app (its routes and error guards, the response without a ``Server``
  header, the last-seen flush every 5 s) on the same database of 1,000 assigned robots.

wrk loads each with 64 connections and one thread, spreading requests over ids 1..1,000 (a Lua
script); rounds alternate between servers so that noise hits all of them alike.

On a busy machine wrk's numbers swing by tens of percent, so the same seven servers are also
measured without sockets, in this process: each request's bytes are fed to the server's
connection handler and the answer is collected from a stub transport, and the CPU time per
request is the minimum over ``--inproc-rounds`` rounds of 5,000 requests. That leaves out the
kernel's work (identical for all) and keeps the differences between rows steady. The script
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
from device_api.directory import ModelDirectory  # noqa: E402
from device_api.keys import SETTINGS  # noqa: E402
from device_api.protocol import ConnectionLimits, DeviceApiRunner  # noqa: E402
from device_api.server import bound_addresses, start_device_api, stop_device_api  # noqa: E402
from device_api.views import firmware_number  # noqa: E402
from robots.stack_ids import parse_stack_id  # noqa: E402
from storage.assignments import AssignmentRepository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.last_seen import LastSeenRecorder  # noqa: E402

ROBOTS = 1_000
TARGET_RATIO = 0.85
MODES = {
    "bare": "bare aiohttp handler",
    "bare-kobo-server": "bare, kobo's server",
    "number": "+ number",
    "lookup": "+ model lookup",
    "last-seen": "+ last-seen",
    "kobo": "kobo /get_text",
}
# Modes that answer every robot with robot 1's constant body.
CONSTANT_BODY_MODES = ("bare", "bare-kobo-server", "number")
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


def model_for(stack_id: int) -> str:
    return f"ft:gpt-4o-mini-2024-07-18:workshop:stack{stack_id}:B{stack_id:05d}"


# --- the servers (run as subprocesses: --serve MODE) ----------------------------------------


BARE_BODY = b'{"message":"ft:gpt-4o-mini-2024-07-18:workshop:stack1:B00001"}'


def step_app(mode: str, directory: ModelDirectory, recorder: LastSeenRecorder) -> web.Application:
    """The bare handler plus kobo's work up to ``mode`` (see the module docstring)."""

    async def bare(request: web.Request) -> web.Response:
        return web.Response(body=BARE_BODY, content_type="application/json")

    def robot_number(request: web.Request) -> int:
        return firmware_number(request.rel_url.raw_query_string) or parse_stack_id(
            request.query.get("number"), "number"
        )

    async def number(request: web.Request) -> web.Response:
        robot_number(request)
        return web.Response(body=BARE_BODY, content_type="application/json")

    async def lookup(request: web.Request) -> web.Response:
        robot = robot_number(request)
        body = directory.fresh_body(robot) or await directory.legacy_body(robot)
        return web.Response(body=body, content_type="application/json")

    async def last_seen(request: web.Request) -> web.Response:
        robot = robot_number(request)
        body = directory.fresh_body(robot) or await directory.legacy_body(robot)
        recorder.record(robot, request.remote, assigned=directory.is_assigned(robot))
        return web.Response(body=body, content_type="application/json")

    handlers = {
        "bare": bare,
        "bare-kobo-server": bare,
        "number": number,
        "lookup": lookup,
        "last-seen": last_seen,
    }
    app = web.Application()
    app.router.add_get("/get_text", handlers[mode])
    return app


async def serve(mode: str, db_path: Path) -> None:
    settings = DeviceApiSettings(_env_file=None, database_path=db_path, last_seen_flush_seconds=5.0)
    db = await Database.open(db_path)
    if mode == "kobo":
        app = create_app(settings, db=db)
    else:
        directory = ModelDirectory(db, settings.default_model)
        await directory.load()
        app = step_app(mode, directory, LastSeenRecorder(db))
        app[SETTINGS] = settings
    if mode == "bare":
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
    else:
        runner = await start_device_api(app, "127.0.0.1", 0, access_log=None)
    print(f"PORT {bound_addresses(runner)[0][1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await stop_device_api(runner)
    await db.close()


# --- the in-process measurement ---------------------------------------------------------------


class StubTransport(asyncio.Transport):
    """Signals each written answer; reads and flow control are no-ops."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = asyncio.Event()

    def write(self, data) -> None:
        self.answered.set()

    def writelines(self, list_of_data) -> None:
        self.answered.set()

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


IN_PROCESS_REQUESTS = 5_000


async def cpu_per_request_in_process(server: web.Server) -> float:
    """Feed requests one by one to a connection of ``server``; CPU us per answered request."""
    requests = [
        f"GET /get_text?number={i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        for i in range(1, ROBOTS + 1)
    ]
    connection = server()
    transport = StubTransport()
    connection.connection_made(transport)
    await asyncio.sleep(0)
    started = time.process_time()
    for i in range(IN_PROCESS_REQUESTS):
        transport.answered.clear()
        connection.data_received(requests[i % ROBOTS])
        await transport.answered.wait()
    elapsed = time.process_time() - started
    connection.connection_lost(None)
    return elapsed / IN_PROCESS_REQUESTS * 1e6


async def in_process_breakdown(db_path: Path, rounds: int) -> dict[str, float]:
    settings = DeviceApiSettings(_env_file=None, database_path=db_path, last_seen_flush_seconds=5.0)
    db = await Database.open(db_path)
    runners: dict[str, web.AppRunner] = {}
    try:
        for mode in MODES:
            if mode == "kobo":
                app = create_app(settings, db=db)
            else:
                directory = ModelDirectory(db, settings.default_model)
                await directory.load()
                app = step_app(mode, directory, LastSeenRecorder(db))
                app[SETTINGS] = settings
            if mode == "bare":
                runners[mode] = web.AppRunner(app, access_log=None)
            else:
                limits = ConnectionLimits.from_settings(settings)
                runners[mode] = DeviceApiRunner(app, limits=limits, access_log=None)
            await runners[mode].setup()
        samples: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(rounds):
            for mode, runner in runners.items():
                samples[mode].append(await cpu_per_request_in_process(runner.server))
        return {mode: min(values) for mode, values in samples.items()}
    finally:
        for runner in runners.values():
            await runner.cleanup()
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
                recorder.record(stack_id, "127.0.0.1", assigned=True)
        record_us = (time.perf_counter() - started) / (20 * ROBOTS) * 1e6
        flushes = []
        for _ in range(5):
            for stack_id in range(1, ROBOTS + 1):
                recorder.record(stack_id, "127.0.0.1", assigned=True)
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
        expected = model_for(1 if mode in CONSTANT_BODY_MODES else stack_id)
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
    parser.add_argument("--inproc-rounds", type=int, default=15, help="in-process rounds")
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

        in_process = asyncio.run(in_process_breakdown(db_path, args.inproc_rounds))

    print_report(results, in_process, args, record_us, flush_ms)


def print_report(results, in_process, args, record_us: float, flush_ms: float) -> None:
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
        f"{'CPU us/req':>12}{'vs bare':>9}{'step us':>9}"
    )
    previous_cpu = bare_cpu
    for mode, label in MODES.items():
        errors = sum(r.errors for r in results[mode])
        cpu = median(mode, "cpu_us")
        print(
            f"{label:<24}{median(mode, 'rps'):>9.0f}{median(mode, 'p50_ms'):>8.2f}"
            f"{median(mode, 'p99_ms'):>8.2f}{errors:>7}{median(mode, 'rps') / bare_rps:>8.2f}x"
            f"{cpu:>12.1f}{bare_cpu / cpu:>8.2f}x{cpu - previous_cpu:>+9.1f}"
        )
        previous_cpu = cpu
    print(
        f"\nIn process, no sockets: CPU us per request, best of {args.inproc_rounds} rounds of"
        f" {IN_PROCESS_REQUESTS}\n"
    )
    print(f"{'server':<24}{'CPU us/req':>12}{'vs bare':>9}{'step us':>9}")
    previous_cpu = bare_cpu = in_process["bare"]
    for mode, label in MODES.items():
        cpu = in_process[mode]
        print(f"{label:<24}{cpu:>12.2f}{bare_cpu / cpu:>8.2f}x{cpu - previous_cpu:>+9.2f}")
        previous_cpu = cpu
    ratio = median("kobo", "rps") / bare_rps
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"\nkobo / bare throughput = {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)")
    print(
        "CPU 'vs bare' = bare's CPU per request / this server's: the throughput ratio a"
        " server would reach with a core to itself; 'step us' = CPU per request added by"
        " that row's step"
    )
    print(
        f"last-seen: record() {record_us:.2f} us per request; flush of {ROBOTS} sightings "
        f"{flush_ms:.1f} ms, once per 5 s = {flush_ms / 5000 * 100:.2f}% of the loop"
    )


if __name__ == "__main__":
    main()
