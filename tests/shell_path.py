"""The no-cloud path as a new workshop takes it: kobo's shell commands run as real processes in a
working folder of their own, with the shipped ``.env.example`` as ``.env`` and nothing of this
process's kobo settings. Shared by tests/bot/test_no_cloud_path.py and bench/no_cloud_path.py."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from augment.template import DATA_SHEET

REPO = Path(__file__).resolve().parents[1]
# What is kept of this process's environment: the tools, nothing of kobo's settings.
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def new_workshop(folder: Path) -> Path:
    """``folder`` made as a fresh workshop's: empty but for the shipped ``.env.example``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / ".env.example", folder / ".env")
    return folder


def shell_environment(**settings: str) -> dict[str, str]:
    """The environment the commands run with: ``settings`` over the folder's ``.env``."""
    kept = {name: os.environ[name] for name in KEPT if name in os.environ}
    return {
        **kept,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **settings,
    }


async def run_kobo(
    work: Path, env: dict[str, str], *args: str, ceiling: float
) -> tuple[int, str, str]:
    """``python -m bot ARGS`` in ``work``: exit status, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=work,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), ceiling)
    except TimeoutError:
        process.kill()
        raise
    return process.returncode, out.decode(), err.decode()


def fill_sheet(path: Path, system: str, rows: Sequence[tuple[str, str]]) -> None:
    """Write ``rows`` (question, answer) below the template's examples, as a volunteer would."""
    import openpyxl

    workbook = openpyxl.load_workbook(path)
    sheet = workbook[DATA_SHEET]
    for row_number, (user, assistant) in enumerate(rows, start=4):
        for column, value in enumerate((system, user, assistant), start=1):
            sheet.cell(row=row_number, column=column, value=value)
    workbook.save(path)


async def start_kobo(work: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """``python -m bot`` in ``work`` (stderr piped, for :func:`wait_for_robots`)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=work,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for_robots(process: asyncio.subprocess.Process, port: int, ceiling: float) -> None:
    """Until the device API on ``port`` answers ``/healthz``; the log if kobo ends first."""
    async with aiohttp.ClientSession() as http:
        for _ in range(int(ceiling * 10)):
            if process.returncode is not None:
                break
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    if process.returncode is None:
        process.kill()
    _, err = await process.communicate()
    raise AssertionError(f"kobo did not start: {err.decode()}")


async def stop_kobo(process: asyncio.subprocess.Process, ceiling: float) -> str:
    """SIGTERM, then its log."""
    if process.returncode is None:
        process.terminate()
    _, err = await asyncio.wait_for(process.communicate(), ceiling)
    return err.decode()
