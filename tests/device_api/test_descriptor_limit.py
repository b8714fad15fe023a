"""``python -m device_api`` under a low descriptor limit (``RLIMIT_NOFILE``): its connection cap
follows the limit, says so at start, and a flood of idle connections neither locks a robot out
nor floods the log (once out of descriptors, ``accept()`` fails and asyncio logs every try)."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import sys
from pathlib import Path

from tests.device_api.firmware import firmware_get, firmware_model_name

REPO_ROOT = Path(__file__).resolve().parents[2]
DESCRIPTORS = 128
IDLE = 148  # connections that never send a request: more than the process may open
HANG_GUARD = 60.0  # seconds; never what the test measures


def _low_descriptor_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


async def _start(tmp_path: Path) -> tuple[asyncio.subprocess.Process, int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEVICE_API_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        DATABASE_PATH=str(tmp_path / "kobo.sqlite3"),
        DEFAULT_MODEL="gpt-4o-mini",
        DEVICE_API_HOST="127.0.0.1",
        DEVICE_API_PORT="0",
        # Idle connections stay until pushed out: only the cap can let the robot in.
        DEVICE_API_HEADER_TIMEOUT_SECONDS="3600",
        LAST_SEEN_FLUSH_SECONDS="3600",
        LOG_LEVEL="INFO",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_api",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_low_descriptor_limit,
    )
    lines: list[str] = []
    while raw := await asyncio.wait_for(process.stderr.readline(), HANG_GUARD):
        lines.append(raw.decode())
        if found := re.search(r"listening on http://127\.0\.0\.1:(\d+)", lines[-1]):
            return process, int(found.group(1)), lines
    await process.wait()
    raise AssertionError("the server did not start:\n" + "".join(lines))


async def test_a_robot_is_answered_through_a_flood_of_idle_connections_at_a_low_limit(tmp_path):
    process, port, lines = await _start(tmp_path)
    idle: list[asyncio.StreamWriter] = []
    try:
        for _ in range(IDLE):
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), HANG_GUARD
            )
            idle.append(writer)
        status, _, body = await asyncio.wait_for(
            firmware_get("127.0.0.1", port, "/get_text?number=1"), HANG_GUARD
        )
        assert status == 200
        assert firmware_model_name(body) == "gpt-4o-mini"
    finally:
        for writer in idle:
            writer.close()
        process.terminate()
        rest = await asyncio.wait_for(process.stderr.read(), HANG_GUARD)
        await asyncio.wait_for(process.wait(), HANG_GUARD)
    lines += rest.decode().splitlines(keepends=True)
    log = "".join(lines)

    [cap_line] = [line for line in lines if "connections at once, not" in line]
    cap = int(re.search(r"at most (\d+) connections", cap_line).group(1))
    assert cap < DESCRIPTORS and "RLIMIT_NOFILE" in cap_line and str(DESCRIPTORS) in cap_line
    assert "Traceback" not in log and " ERROR " not in log, log[:3000]
    assert len(lines) < 40, f"{len(lines)} log lines"
