"""``python -m device_api`` as a real process: serves, stops cleanly, rejects bad settings."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from storage.assignments import AssignmentRepository
from storage.database import Database
from tests.ceilings import PROCESS_SECONDS
from tests.device_api.conftest import STAFF
from tests.device_api.firmware import firmware_get, firmware_model_name

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = (
    "DATABASE_PATH",
    "DEFAULT_MODEL",
    "DEVICE_API_HOST",
    "DEVICE_API_PORT",
    "DEVICE_API_TOKEN",
    "LEGACY_ENDPOINT_ENABLED",
    "LAST_SEEN_FLUSH_SECONDS",
    "LAST_SEEN_MAX_UNASSIGNED",
    "DEVICE_API_MAX_CONNECTIONS",
    "DEVICE_API_HEADER_TIMEOUT_SECONDS",
    "DEVICE_API_KEEPALIVE_SECONDS",
    "LOG_LEVEL",
)


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(
        DATABASE_PATH=str(tmp_path / "kobo.sqlite3"),
        DEFAULT_MODEL="gpt-4o-mini",
        DEVICE_API_HOST="127.0.0.1",
        DEVICE_API_PORT="0",
        LAST_SEEN_FLUSH_SECONDS="3600",
        LOG_LEVEL="INFO",
    )
    env.update(settings)
    return env


async def _start(tmp_path: Path, **settings: str) -> tuple[asyncio.subprocess.Process, int, list]:
    """Start the server (cwd tmp_path: no developer .env); return it, its port, its log lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_api",
        cwd=tmp_path,
        env=_env(tmp_path, **settings),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    deadline = time.monotonic() + PROCESS_SECONDS
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(process.stderr.readline(), timeout=PROCESS_SECONDS)
        if not raw:
            break
        lines.append(raw.decode())
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", lines[-1])
        if found:
            return process, int(found.group(1)), lines
    process.kill()
    await process.wait()
    raise AssertionError("the server did not start:\n" + "".join(lines))


async def _finish(process: asyncio.subprocess.Process, lines: list[str]) -> int:
    rest = await asyncio.wait_for(process.stderr.read(), timeout=PROCESS_SECONDS)
    lines.extend(rest.decode().splitlines(keepends=True))
    return await asyncio.wait_for(process.wait(), timeout=PROCESS_SECONDS)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serves_and_stops_cleanly_writing_last_seen(tmp_path, signum):
    process, port, lines = await _start(tmp_path)
    try:
        status, _, body = await firmware_get("127.0.0.1", port, "/get_text?number=3")
        assert status == 200
        assert firmware_model_name(body) == "gpt-4o-mini"

        # The bot writes from another process; the server picks it up within the bound.
        bot_db = await Database.open(tmp_path / "kobo.sqlite3")
        try:
            await AssignmentRepository(bot_db).assign(3, "ft:gpt-4o-mini:acme:s3:Z3", **STAFF)
            deadline = time.monotonic() + 30  # a ceiling: the check comes every 1 s
            while time.monotonic() < deadline:
                _, _, body = await firmware_get("127.0.0.1", port, "/get_text?number=3")
                if firmware_model_name(body) == "ft:gpt-4o-mini:acme:s3:Z3":
                    break
                await asyncio.sleep(0.05)
            assert firmware_model_name(body) == "ft:gpt-4o-mini:acme:s3:Z3"
        finally:
            await bot_db.close()
    finally:
        process.send_signal(signum)
        returncode = await _finish(process, lines)

    log = "".join(lines)
    assert returncode == 0, log
    assert "device API stopped" in log
    assert "Traceback" not in log
    check = await Database.open(tmp_path / "kobo.sqlite3")
    try:
        [robot] = await AssignmentRepository(check).overview()
    finally:
        await check.close()
    assert robot.stack_id == 3
    assert robot.last_seen_address == "127.0.0.1"  # written at shutdown (flush every hour)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("DEVICE_API_PORT", "abc", "DEVICE_API_PORT"),
        ("DEVICE_API_PORT", "70000", "DEVICE_API_PORT"),
        ("LAST_SEEN_FLUSH_SECONDS", "0", "LAST_SEEN_FLUSH_SECONDS"),
        ("DEFAULT_MODEL", 'gpt"4', "DEFAULT_MODEL"),
        ("DEVICE_API_MAX_CONNECTIONS", "0", "DEVICE_API_MAX_CONNECTIONS"),
    ],
)
async def test_bad_setting_exits_2_with_one_line(tmp_path, setting, value, named):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_api",
        cwd=tmp_path,
        env=_env(tmp_path, **{setting: value}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=PROCESS_SECONDS)

    assert process.returncode == 2
    assert stdout == b""
    [line] = stderr.decode().splitlines()
    assert line.startswith("kobo: configuration error: ")
    assert named in line
    assert not (tmp_path / "kobo.sqlite3").exists()


async def test_busy_port_exits_2_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "device_api",
            cwd=tmp_path,
            env=_env(tmp_path, DEVICE_API_PORT=str(port), LOG_LEVEL="ERROR"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=PROCESS_SECONDS)

    assert process.returncode == 2
    [line] = stderr.decode().splitlines()
    assert line.startswith(
        f"kobo: cannot listen on 127.0.0.1:{port} (DEVICE_API_HOST/DEVICE_API_PORT): "
    )


@pytest.mark.parametrize("kind", ["a directory", "a text file"])
async def test_unusable_database_path_exits_2_with_one_line(tmp_path, kind):
    unusable = tmp_path / "unusable"
    if kind == "a directory":
        unusable.mkdir()
    else:
        unusable.write_text("shopping list: rice, miso, nori\n" * 50)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_api",
        cwd=tmp_path,
        env=_env(tmp_path, DATABASE_PATH=str(unusable), LOG_LEVEL="ERROR"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=PROCESS_SECONDS)

    assert process.returncode == 2
    [line] = stderr.decode().splitlines()
    assert line.startswith(f"kobo: DATABASE_PATH: cannot open database {unusable}")
