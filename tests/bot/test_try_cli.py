"""``python -m bot try MODEL MESSAGE``: /try from a shell, through the robots' routing (the fake
OpenAI for OpenAI models, LOCAL_ENGINE_URL for a local fine-tune), with no Discord token."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest

from i18n import text
from storage.database import Database
from tests.fakes.openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
FINE_TUNE = "ft:gpt-4o-mini:acme:stack4:A1"
LOCAL_MODEL = "kobo:gemma-3-270m:stack4:ftjob-abc"


async def try_cli(*args: str, home: Path, **env: str) -> tuple[int, str, str]:
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("KOBO_", "LC_", "LANG", "DATABASE_", "DATA_", "DISCORD_", "OPENAI_", "LOCAL_ENGINE_")
        )
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "try",
        *args,
        cwd=home,
        env={
            **kept,
            "PYTHONPATH": str(ROOT),
            "DATABASE_PATH": str(home / "kobo.sqlite3"),
            "DATA_DIR": str(home / "data"),
            "LANG": "C.UTF-8",
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def home(tmp_path: Path) -> Path:
    db = await Database.open(tmp_path / "kobo.sqlite3")
    await db.close()
    return tmp_path


def openai_env(fake: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.base_url}


@pytest.mark.parametrize(("lang", "language"), [("ja_JP.UTF-8", "ja"), ("C.UTF-8", "en")])
async def test_an_openai_model_answers_with_the_system_prompt_typed(
    home, fake_openai, lang, language
):
    rc, out, err = await try_cli(
        FINE_TUNE,
        "元気？",
        "--system",
        "やさしく答えて",
        home=home,
        LANG=lang,
        **openai_env(fake_openai),
    )
    assert (rc, err) == (0, "")
    title, said, footer = out.strip().splitlines()
    assert title == text("shell.try.title", language, model=FINE_TUNE)
    assert said == f"{FINE_TUNE} heard: 元気？"
    assert re.fullmatch(
        text("gateway.try.footer", language, seconds="X", prompt="P", completion="C")
        .replace("X", r"[\d.]+")
        .replace("P", r"\d+")
        .replace("C", str(len(said))),
        footer,
    )
    (sent,) = fake_openai.calls("POST", "/v1/chat")
    assert sent.body["model"] == FINE_TUNE
    assert sent.body["messages"] == [
        {"role": "system", "content": "やさしく答えて"},
        {"role": "user", "content": "元気？"},
    ]
    assert sent.body["max_completion_tokens"] == 160  # the robots' answer limit
    with sqlite3.connect(home / "kobo.sqlite3") as conn:  # nothing stored
        for table in ("robot_usage", "robot_keys"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)


async def test_json_for_scripts(home, fake_openai):
    rc, out, _ = await try_cli("gpt-4o-mini", "hi", "--json", home=home, **openai_env(fake_openai))
    assert rc == 0
    answer = json.loads(out)
    assert answer["model"] == "gpt-4o-mini"
    assert answer["text"] == "gpt-4o-mini heard: hi"
    assert answer["completion_tokens"] == len(answer["text"]) and answer["prompt_tokens"] > 0


async def test_a_local_fine_tune_goes_to_the_local_engine_not_openai(home, fake_openai):
    folder = home / "data" / "models" / "ftjob-abc"
    (folder / "adapter").mkdir(parents=True)
    (folder / "kobo-model.json").write_text(
        json.dumps(
            {
                "model": LOCAL_MODEL,
                "job_id": "ftjob-abc",
                "base_model": "gemma-3-270m",
                "base_source": "google/gemma-3-270m-it",
                "method": "lora",
                "system_prompt": "You are a robot.",
            }
        ),
        encoding="utf-8",
    )
    async with FakeOpenAI(api_key="engine-key") as engine:
        rc, out, err = await try_cli(
            LOCAL_MODEL,
            "こんにちは",
            home=home,
            LOCAL_ENGINE_URL=engine.base_url,
            LOCAL_ENGINE_API_KEY="engine-key",
            **openai_env(fake_openai),
        )
        assert rc == 0, err
        assert out.splitlines()[1] == f"{LOCAL_MODEL} heard: こんにちは"
        (sent,) = engine.calls("POST", "/v1/chat")
    # Without --system the model gets the prompt it was trained with, as a robot would.
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are a robot."},
        {"role": "user", "content": "こんにちは"},
    ]
    assert fake_openai.calls("POST", "/v1/chat") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (('ft:"x', "hi"), "The model name contains"),
        (("gpt-4o-mini", "   "), text("shell.try.empty", "en", name="MESSAGE")),
        (
            ("gpt-4o-mini", "あ" * 2001),
            text("shell.try.too_long", "en", name="MESSAGE", length=2001, limit=2000),
        ),
        (
            ("gpt-4o-mini", "hi", "--system", "x" * 2001),
            text("shell.try.too_long", "en", name="--system", length=2001, limit=2000),
        ),
    ],
)
async def test_bad_input_is_refused_with_exit_2_and_nothing_asked(home, fake_openai, args, message):
    rc, out, err = await try_cli(*args, home=home, **openai_env(fake_openai))
    assert rc == 2 and out == ""
    assert err.startswith("kobo try: ") and message in err, err
    assert fake_openai.calls("POST", "/v1/chat") == []


async def test_a_model_that_cannot_answer_exits_1_saying_why(home, fake_openai):
    fake_openai.chat_models = {"gpt-4o-mini"}
    rc, out, err = await try_cli(
        "gpt-5-imaginary", "hi", home=home, LANG="ja_JP.UTF-8", **openai_env(fake_openai)
    )
    assert rc == 1 and out == ""
    assert err.strip() == "kobo try: " + text(
        "gateway.upstream_error",
        "ja",
        upstream=text("gateway.upstream.openai", "ja"),
        status=404,
        detail="The model `gpt-5-imaginary` does not exist or you do not have access to it.",
    )

    rc, _, err = await try_cli("gpt-4o-mini", "hi", home=home)  # no OPENAI_API_KEY
    assert rc == 1
    assert err.strip() == "kobo try: " + text("gateway.no_openai_key", "en", model="gpt-4o-mini")
