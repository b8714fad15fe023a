"""``.env`` as editors save it (Japanese Notepad: Shift_JIS or UTF-16), read the same way by all
three entry points; a file that is not text ends them with one line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from config import Settings
from tests.bot.kobo_process import get_text, start_kobo, wait_until_serving
from tests.ceilings import PROCESS_SECONDS
from tests.fakes.discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = {name.upper() for name in Settings.model_fields}
SYSTEM = "あなたはスタックチャンです。やさしく話してね。"


def environment(**env: str) -> dict[str, str]:
    """The test's environment without any kobo setting, so that .env is what counts."""
    inherited = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    return {**inherited, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **env}


def run_augment(tmp_path: Path) -> subprocess.CompletedProcess:
    # No system column: the system prompt comes from AUGMENT_DEFAULT_SYSTEM in .env.
    (tmp_path / "q.csv").write_text("user,assistant\n公園で遊ぼう。,いいね！\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot", "augment", "q.csv", "--method", "duplicate", "--count", "1"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )


async def start_device_api(
    tmp_path: Path, log: list[str]
) -> tuple[asyncio.subprocess.Process, int | None]:
    """Start ``python -m device_api``, reading its log into ``log`` until it listens; returns
    the process and its port (None if it ended first)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_api",
        cwd=tmp_path,
        env=environment(
            DATABASE_PATH=str(tmp_path / "kobo.sqlite3"),
            DEVICE_API_HOST="127.0.0.1",
            DEVICE_API_PORT="0",
        ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    while raw := await asyncio.wait_for(process.stderr.readline(), PROCESS_SECONDS):
        log.append(raw.decode())
        if found := re.search(rb"listening on http://127\.0\.0\.1:(\d+)", raw):
            return process, int(found.group(1))
    return process, None


@pytest.mark.parametrize("encoding", ["cp932", "utf-16"])
async def test_device_api_reads_a_notepad_env_file(tmp_path, encoding):
    # UTF-16 starts with a BOM, right before the first setting's name.
    text = "DEFAULT_MODEL=gpt-4.1-nano\n# ロボットが最初に使うモデル\nLOG_LEVEL=INFO\n"
    (tmp_path / ".env").write_bytes(text.encode(encoding))
    log: list[str] = []
    process, port = await start_device_api(tmp_path, log)
    try:
        assert port is not None, "".join(log)
        assert await get_text(port, 3) == b'{"message":"gpt-4.1-nano"}'
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    assert process.returncode == 0


def test_augment_reads_a_shift_jis_env_file(tmp_path):
    (tmp_path / ".env").write_bytes(f"AUGMENT_DEFAULT_SYSTEM={SYSTEM}\n".encode("cp932"))
    result = run_augment(tmp_path)
    assert result.returncode == 0, result.stderr
    [example] = [json.loads(line) for line in (tmp_path / "q-duplicate.jsonl").open("rb")]
    assert example["messages"][0] == {"role": "system", "content": SYSTEM}


async def test_the_bot_reads_a_shift_jis_staff_role(tmp_path):
    async with FakeDiscord() as fake:
        guild = fake.add_guild("Workshop")
        fake.add_text_channel(guild, "robots")
        staff = fake.add_role(guild, "スタッフ")
        fake.allow_command_for_role(guild, staff)  # Server Settings → Integrations
        helper = fake.add_member(guild, "hana", roles=[staff])
        (tmp_path / ".env").write_bytes(
            "# 工房の設定\nSTAFF_ROLE=スタッフ\nSTAFF_MANAGE_GUILD=false\n".encode("cp932")
        )
        process, port = await start_kobo(fake, tmp_path, GUILD_ID=str(guild.id))
        try:
            await wait_until_serving(process, port, fake, guild)
            assign = await fake.invoke(
                "assign", {"stack_id": 3, "model": "gpt-4.1-nano"}, user=helper
            )
            reply = await assign.wait_response()
            assert "→ `gpt-4.1-nano`" in reply.content, reply.content
            assert await get_text(port, 3) == b'{"message":"gpt-4.1-nano"}'
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    assert process.returncode == 0, err.decode()


async def run_bot(tmp_path: Path) -> tuple[int, str]:
    async with FakeDiscord() as fake:
        process, _ = await start_kobo(fake, tmp_path)
        _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    return process.returncode, err.decode()


async def run_device_api(tmp_path: Path) -> tuple[int, str]:
    log: list[str] = []
    process, port = await start_device_api(tmp_path, log)
    if port is not None:
        process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    return process.returncode, "".join(log) + err.decode()


async def run_augment_cli(tmp_path: Path) -> tuple[int, str]:
    result = await asyncio.to_thread(run_augment, tmp_path)
    return result.returncode, result.stderr


@pytest.mark.parametrize("run", [run_bot, run_device_api, run_augment_cli])
async def test_an_env_file_that_is_not_text_ends_with_one_line_naming_it(tmp_path, run):
    # Line 2 is neither UTF-8 nor Shift_JIS (0x82 0xFF is no character in either).
    (tmp_path / ".env").write_bytes(b"LOG_LEVEL=INFO\nSTAFF_ROLE=\x82\xff\n")
    returncode, stderr = await run(tmp_path)
    assert returncode == 2, stderr
    # (The bot runs with every warning shown: a library's DeprecationWarning may come first.)
    [line] = [line for line in stderr.splitlines() if line.startswith("kobo:")]
    assert "Traceback" not in stderr
    assert line == (
        "kobo: configuration error: .env: line 2 is not UTF-8 or Shift_JIS text; save it as UTF-8"
    )
