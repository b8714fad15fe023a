"""The whole no-cloud path, as a new workshop takes it from the README with a shell alone:
template → fill → augment → train (kobo's own trainer) → robot key → assign → ``python -m bot``
→ an AI_StackChan_Ex robot's sentence answered by the local engine.

In a fresh working folder with the shipped ``.env.example`` as ``.env`` (its relative
``DATA_DIR=data`` and ``DATABASE_PATH=data/kobo.sqlite3``, its blank ``DISCORD_TOKEN`` and
``OPENAI_API_KEY`` included). Only the ports and the base model table differ: the test builds a
tiny random Llama (the real trainer, the real GGUF converters and the real llama.cpp engine all
run on it) and names it with a relative path, as a host would.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from tests.bot.kobo_process import free_port
from tests.ceilings import PROCESS_SECONDS
from tests.gateway import stackchan_ex
from tests.gateway.stackchan_ex import say
from tests.gateway.tiny_models import build_base_model
from tests.shell_path import (
    fill_sheet,
    new_workshop,
    run_kobo,
    shell_environment,
    start_kobo,
    stop_kobo,
    wait_for_robots,
)

SYSTEM = "あなたはスタックチャンです。小学生とやさしく話すロボットです。"
ROWS = [
    ("こんにちは", "こんにちは！ぼくはスタックチャンだよ。"),
    ("好きな食べ物は？", "ぼくは電気が大好きだよ。"),
    ("今日は何して遊ぶ？", "しりとりをしようよ！"),
    ("元気？", "とっても元気だよ！"),
    ("好きな色は？", "空みたいな青が好きだよ。"),
    ("好きな動物は？", "ねこが大好きだよ。"),
    ("何歳？", "ぼくはまだ一歳のロボットだよ。"),
    ("歌える？", "ちょっとだけ歌えるよ。ラララ！"),
    ("おやすみ", "おやすみなさい。また明日ね！"),
    ("ありがとう", "どういたしまして！"),
]
# A training, a GGUF export and an engine start on a busy machine: a hang guard only.
COMMAND_SECONDS = PROCESS_SECONDS * 4


async def test_a_sheet_becomes_a_talking_robot_from_a_shell_with_the_shipped_settings(
    tmp_path: Path,
):
    work = new_workshop(tmp_path / "workshop")
    build_base_model(work / "models" / "tiny-llama")
    (work / "base-models.toml").write_text(
        '[models."tiny-llama"]\nsource = "models/tiny-llama"\nlicence = "test model"\n'
        "parameters = 100000\n",
        encoding="utf-8",
    )
    api_port = free_port()
    env = shell_environment(
        KOBO_LANGUAGE="en",
        LOCAL_BASE_MODELS="base-models.toml",
        TRAINER_PORT=str(free_port()),
        TRAINER_NICENESS="0",  # beside other tests, a niced training would only be slower
        DEVICE_API_HOST="127.0.0.1",
        DEVICE_API_PORT=str(api_port),
    )

    async def kobo(*args: str) -> str:
        status, out, err = await run_kobo(work, env, *args, ceiling=COMMAND_SECONDS)
        assert status == 0, err
        return out

    await kobo("template", "sheet.xlsx")
    fill_sheet(work / "sheet.xlsx", SYSTEM, ROWS)
    await kobo("augment", "sheet.xlsx", "--method", "duplicate", "-o", "robot.jsonl")
    model = await kobo("train", "robot.jsonl", "--base-model", "tiny-llama", "--epochs", "2")
    model = model.strip().splitlines()[-1]
    assert model.startswith("ft:tiny-llama:kobo:")
    # The shipped relative DATA_DIR, read against the folder the commands ran in.
    assert (work / "data" / "models").is_dir() and (work / "data" / "kobo.sqlite3").is_file()
    key = json.loads(await kobo("robots", "key", "4", "--json"))["key"]
    await kobo("robots", "assign", "4", model)

    bot = await start_kobo(work, env)
    try:
        await wait_for_robots(bot, api_port, PROCESS_SECONDS)
        async with aiohttp.ClientSession() as http:
            reply = await say(
                http,
                f"http://127.0.0.1:{api_port}/v1/chat/completions",
                key,
                [{"role": "user", "content": "こんにちは"}],
                firmware=stackchan_ex.CURRENT,
            )
    finally:
        log = await stop_kobo(bot, PROCESS_SECONDS)
    assert reply.status == 200, reply.body
    assert json.loads(reply.body)["model"] == model
    assert reply.spoken not in ("", stackchan_ex.ERROR, stackchan_ex.DONT_KNOW)
    assert "kobo runs without Discord" in log
    assert key not in log
