"""``python -m bot robots ...``: /stacks, /assign, /unassign and /robot-key from a shell, with no
Discord token, over the database a running device API serves from."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from config.settings import DeviceApiSettings
from device_api.app import create_app
from device_api.server import bound_addresses, start_device_api, stop_device_api
from i18n import text
from storage.assignments import AssignmentRepository
from storage.database import Database
from storage.robot_keys import RobotKeyRepository
from tests.ceilings import PROCESS_SECONDS
from tests.device_api.firmware import firmware_model_name

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = "gpt-4o-mini"
FINE_TUNE = "ft:gpt-4o-mini:acme:stack4:A1"


def environment(home: Path, **env: str) -> dict[str, str]:
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KOBO_", "LC_", "LANG", "DATABASE_", "DATA_", "DISCORD_", "DEVICE_"))
        and k != "DEFAULT_MODEL"
    }
    return {
        **kept,
        "PYTHONPATH": str(ROOT),
        "DATABASE_PATH": str(home / "kobo.sqlite3"),
        "DATA_DIR": str(home / "data"),
        "DEFAULT_MODEL": DEFAULT_MODEL,
        "LANG": "C.UTF-8",
        **env,
    }


async def robots(*args: str, home: Path, **env: str) -> tuple[int, str, str]:
    """Run ``python -m bot robots ARGS`` as a real process, without blocking the event loop
    (a device API may be serving in this one)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "robots",
        *args,
        cwd=home,
        env=environment(home, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=PROCESS_SECONDS)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def home(tmp_path: Path) -> Path:
    db = await Database.open(tmp_path / "kobo.sqlite3")  # the bot made it when it first ran
    await db.close()
    return tmp_path


@pytest.mark.parametrize(("lang", "language"), [("ja_JP.UTF-8", "ja"), ("C.UTF-8", "en")])
async def test_assign_list_and_unassign_say_what_changed_in_the_shells_language(
    home, lang, language
):
    default = text("shell.robots.default_model", language, model=DEFAULT_MODEL)
    rc, out, err = await robots("assign", "4", FINE_TUNE, home=home, LANG=lang)
    assert (rc, err) == (0, "")
    assert out.strip() == text(
        "shell.robots.changed", language, stack_id=4, old=default, new=FINE_TUNE
    )
    rc, out, _ = await robots("assign", "4", FINE_TUNE, home=home, LANG=lang)
    assert rc == 0
    assert out.strip() == text("shell.robots.unchanged", language, stack_id=4, new=FINE_TUNE)

    rc, out, _ = await robots("list", home=home, LANG=lang)
    assert rc == 0
    first, footer = out.strip().splitlines()
    assert first.startswith("4: " + FINE_TUNE)
    assert footer == text("shell.robots.footer", language, robots=1, never=1, model=DEFAULT_MODEL)

    rc, out, _ = await robots("unassign", "4", home=home, LANG=lang)
    assert rc == 0
    assert out.strip() == text(
        "shell.robots.changed", language, stack_id=4, old=FINE_TUNE, new=default
    )
    rc, out, _ = await robots("unassign", "4", home=home, LANG=lang)
    assert rc == 0
    assert out.strip() == text(
        "shell.robots.nothing_to_unassign", language, stack_id=4, model=DEFAULT_MODEL
    )
    db = await Database.open(home / "kobo.sqlite3")
    try:
        history = await AssignmentRepository(db).history(4)
    finally:
        await db.close()
    assert [(h.old_model, h.new_model, h.changed_by_name) for h in history] == [
        (None, FINE_TUNE, "command line"),
        (FINE_TUNE, None, "command line"),
    ]


async def test_json_for_scripts(home):
    rc, out, _ = await robots("assign", "7", FINE_TUNE, "--json", home=home)
    assert rc == 0
    assert json.loads(out) == {
        "stack_id": 7,
        "old_model": None,
        "new_model": FINE_TUNE,
        "changed": True,
        "default_model": DEFAULT_MODEL,
    }
    rc, out, _ = await robots("list", "--json", home=home)
    listed = json.loads(out)
    assert listed["default_model"] == DEFAULT_MODEL
    (robot,) = listed["robots"]
    assert (robot["stack_id"], robot["model"]) == (7, FINE_TUNE)
    assert robot["assignment"]["assigned_by_name"] == "command line"
    assert robot["last_seen_at"] is None and robot["usage"] is None

    rc, out, _ = await robots(
        "key", "7", "--json", home=home, DEVICE_API_PUBLIC_URL="http://k:8000/"
    )
    issued = json.loads(out)
    assert rc == 0 and issued["stack_id"] == 7 and issued["replaced"] is False
    assert issued["key"].startswith("kobo-7-")
    assert issued["endpoint"] == "http://k:8000/v1/chat/completions"
    rc, out, _ = await robots("key", "7", "--revoke", "--json", home=home)
    assert json.loads(out) == {"stack_id": 7, "revoked": True}
    rc, out, _ = await robots("key", "7", "--revoke", "--json", home=home)
    assert json.loads(out) == {"stack_id": 7, "revoked": False}


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_key_prints_the_sd_card_lines_once_and_stores_only_its_hash(home, language):
    lang = {"ja": "ja_JP.UTF-8", "en": "C.UTF-8"}[language]
    rc, first, err = await robots("key", "5", home=home, LANG=lang)
    assert (rc, err) == (0, "")
    key = next(line for line in first.splitlines() if "aiservice" in line).split('"')[1]
    endpoint = text("gateway.key.url_placeholder", language) + "/v1/chat/completions"
    assert first.strip() == text(
        "shell.robots.key_issued", language, stack_id=5, key=key, endpoint=endpoint
    )
    rc, second, _ = await robots("key", "5", home=home, LANG=lang)
    assert rc == 0
    assert second.strip().endswith(text("gateway.key.replaced", language, stack_id=5))
    with sqlite3.connect(home / "kobo.sqlite3") as conn:
        stored = conn.execute("SELECT * FROM robot_keys").fetchall()
    assert len(stored) == 1 and not any(key in str(value) for value in stored[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("assign", "abc", FINE_TUNE), "STACK_ID must be a positive whole number"),
        (("assign", "0", FINE_TUNE), "STACK_ID"),
        (("unassign", "99999999999999999999999"), "STACK_ID is too large"),
        (("key", "-3"), "STACK_ID"),
        (("assign", "4", 'ft:"x'), "The model name contains"),
        (("assign", "4", "  "), "The model name is empty"),
    ],
)
async def test_bad_input_is_refused_with_exit_2_and_nothing_written(home, args, message):
    rc, out, err = await robots(*args, home=home)
    assert rc == 2 and out == ""
    assert err.startswith("kobo robots: ") and message in err, err
    with sqlite3.connect(home / "kobo.sqlite3") as conn:
        for table in ("robot_assignments", "assignment_history", "robot_keys"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)


async def test_no_database_is_refused_and_none_is_made(tmp_path):
    rc, _, err = await robots("list", home=tmp_path)
    assert rc == 2
    assert err.strip() == "kobo robots: " + text(
        "curation.cli.no_database", "en", path=tmp_path / "kobo.sqlite3"
    )
    assert list(tmp_path.iterdir()) == []


async def test_a_database_kept_busy_past_the_timeout_exits_1(home):
    with sqlite3.connect(home / "kobo.sqlite3", isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock (past busy_timeout)
        rc, out, err = await robots("assign", "4", FINE_TUNE, home=home)
        other.execute("ROLLBACK")
    assert rc == 1 and out == ""
    assert "database is locked" in err and "Traceback" not in err


# --- while the device API runs --------------------------------------------------------------


@pytest.fixture
async def device_api(home):
    """The device API as the bot runs it, on a real port, with its own database connections."""
    settings = DeviceApiSettings(
        _env_file=None,
        database_path=home / "kobo.sqlite3",
        data_dir=home / "data",
        default_model=DEFAULT_MODEL,
        device_api_host="127.0.0.1",
        device_api_port=0,
    )
    runner = await start_device_api(create_app(settings), "127.0.0.1", 0, access_log=None)
    host, port = bound_addresses(runner)[0]
    async with aiohttp.ClientSession(
        base_url=f"http://{host}:{port}", timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        yield session
    await stop_device_api(runner)


async def served_to_old_firmware(api: aiohttp.ClientSession, stack_id: int, wanted: str) -> None:
    """Ask like a booting robot until ``wanted`` comes (another process's write is served
    within EXTERNAL_WRITE_CHECK_SECONDS, device_api/directory.py); a generous ceiling."""
    deadline = time.monotonic() + 30
    while True:
        async with api.get(f"/get_text?number={stack_id}") as response:
            if firmware_model_name(await response.read()) == wanted:
                return
        assert time.monotonic() < deadline, f"{wanted} never served"
        await asyncio.sleep(0.05)


async def models_for(api: aiohttp.ClientSession, key: str) -> tuple[int, dict]:
    async with api.get("/v1/models", headers={"Authorization": f"Bearer {key}"}) as response:
        return response.status, await response.json()


async def test_the_running_device_api_sees_each_change_the_shell_makes(home, device_api):
    await served_to_old_firmware(device_api, 4, DEFAULT_MODEL)

    rc, out, _ = await robots("key", "4", "--json", home=home)
    key = json.loads(out)["key"]
    # The gateway reads the key and the model with each request: no cache to wait for.
    status, body = await models_for(device_api, key)
    assert status == 200 and body["data"][0]["id"] == DEFAULT_MODEL

    rc, _, _ = await robots("assign", "4", FINE_TUNE, home=home)
    assert rc == 0
    status, body = await models_for(device_api, key)
    assert status == 200 and body["data"][0]["id"] == FINE_TUNE
    await served_to_old_firmware(device_api, 4, FINE_TUNE)

    rc, _, _ = await robots("unassign", "4", home=home)
    assert rc == 0
    assert (await models_for(device_api, key))[1]["data"][0]["id"] == DEFAULT_MODEL
    await served_to_old_firmware(device_api, 4, DEFAULT_MODEL)

    rc, _, _ = await robots("key", "4", "--revoke", home=home)
    assert rc == 0
    status, body = await models_for(device_api, key)
    assert status == 401
    # The refusal names both ways to make a new key.
    assert body["error"]["message"] == text("gateway.key_invalid", "en")
    assert "/robot-key" in body["error"]["message"]
    assert "python -m bot robots key" in body["error"]["message"]


async def test_a_key_made_from_the_shell_is_the_robots_only_live_key(home, device_api):
    _, out, _ = await robots("key", "9", "--json", home=home)
    old = json.loads(out)["key"]
    _, out, _ = await robots("key", "9", "--json", home=home)
    new = json.loads(out)
    assert new["replaced"] is True
    assert (await models_for(device_api, old))[0] == 401
    assert (await models_for(device_api, new["key"]))[0] == 200
    db = await Database.open(home / "kobo.sqlite3")
    try:
        assert (await RobotKeyRepository(db).credentials(9)).stack_id == 9
    finally:
        await db.close()
