"""Local fine-tunes through the gateway: the trainer's folder layout, the export to GGUF, the
real llama.cpp engine (xllamacpp) with each fine-tune a LoRA adapter on one loaded base, and an
AI_StackChan_Ex robot with its key. Also the same routing to an external OpenAI-compatible
engine (LOCAL_ENGINE_URL), where what kobo sends can be read exactly."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from device_api.app import create_app
from gateway.keys import RobotKeys
from storage.robot_keys import RobotKeyRepository
from tests.device_api.conftest import STAFF
from tests.fakes.openai import FakeOpenAI
from tests.gateway import stackchan_ex
from tests.gateway.stackchan_ex import say
from tests.openapi.clients import openai_client

HELLO = [{"role": "user", "content": "hello robot"}]


@pytest.fixture
def keys(db) -> RobotKeys:
    return RobotKeys(RobotKeyRepository(db))


async def test_a_robot_talks_to_its_local_fine_tune_on_the_real_engine(
    make_settings, serve, db, repo, keys, local_fine_tunes, fake_openai, http, tmp_path
):
    data_dir = tmp_path / "data"
    local_fine_tunes.install(data_dir)
    settings = make_settings(
        data_dir=data_dir,
        openai_api_key=SecretStr(fake_openai.api_key),
        openai_base_url=fake_openai.base_url,
        gateway_temperature=0.0,  # greedy: the same question gets the same answer
        gateway_max_answer_tokens=12,
        local_engine_slots=2,
        local_engine_context_tokens=512,
    )
    api = await serve(create_app(settings, db=db))
    url = f"{api.url}/v1/chat/completions"
    await repo.assign(4, local_fine_tunes.first, **STAFF)
    robot_key = (await keys.issue(4, **STAFF)).key

    first = await say(http, url, robot_key, HELLO, image=True)

    assert first.status == 200, first.body
    answer = json.loads(first.body)
    assert answer["model"] == local_fine_tunes.first
    assert answer["usage"]["completion_tokens"] == 12  # the answer limit reached the engine
    assert answer["choices"][0]["finish_reason"] == "length"
    assert first.spoken not in ("", stackchan_ex.ERROR, stackchan_ex.DONT_KNOW)
    assert fake_openai.calls("POST", "/v1/chat") == []  # a local model never goes to OpenAI

    # Re-assigned: the very next sentence comes from the other fine-tune, a second adapter
    # on the same base, and says something else.
    await repo.assign(4, local_fine_tunes.second, **STAFF)
    second = await say(http, url, robot_key, HELLO)
    assert json.loads(second.body)["model"] == local_fine_tunes.second
    assert second.spoken != first.spoken

    await repo.assign(4, local_fine_tunes.first, **STAFF)
    assert (await say(http, url, robot_key, HELLO)).spoken == first.spoken

    # The openai SDK, streaming, gets the same greedy answer.
    client = openai_client(f"{api.url}/v1", robot_key, max_retries=0)
    async with client:
        stream = await client.chat.completions.create(model="anything", messages=HELLO, stream=True)
        chunks = [chunk async for chunk in stream]
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.replace("\n", " ") == first.spoken
    assert {c.model for c in chunks} == {local_fine_tunes.first}
    # Exported once, beside the model (and the base once for both fine-tunes).
    models_dir = data_dir / "models"
    assert sorted(p.relative_to(models_dir).as_posix() for p in models_dir.rglob("*.gguf")) == [
        "_base/" + next((models_dir / "_base").iterdir()).name + "/model-q8_0.gguf",
        "ftjob-" + "a" * 24 + "/gguf/adapter-f16.gguf",
        "ftjob-" + "b" * 24 + "/gguf/adapter-f16.gguf",
    ]


async def test_local_models_get_plain_text_and_their_trained_system_prompt(
    make_settings, serve, db, repo, keys, local_fine_tunes, fake_openai, http, tmp_path
):
    """LOCAL_ENGINE_URL: a vLLM-like server (here a second fake) instead of the embedded one."""
    async with FakeOpenAI(api_key="engine-key") as engine:
        local_fine_tunes.install(tmp_path / "data")
        settings = make_settings(
            data_dir=tmp_path / "data",
            openai_api_key=SecretStr(fake_openai.api_key),
            openai_base_url=fake_openai.base_url,
            local_engine_url=engine.base_url,
            local_engine_api_key=SecretStr("engine-key"),
        )
        api = await serve(create_app(settings, db=db))
        await repo.assign(4, local_fine_tunes.first, **STAFF)
        robot_key = (await keys.issue(4, **STAFF)).key
        history = [
            {"role": "user", "content": "タイマーをかけて"},
            {"role": "function", "name": "timer", "content": "set"},
            {"role": "assistant", "content": "かけました"},
            {"role": "user", "content": "これは何？"},
        ]

        reply = await say(http, f"{api.url}/v1/chat/completions", robot_key, history, image=True)

        assert reply.spoken == f"{local_fine_tunes.first} heard: これは何？"
        (sent,) = engine.calls("POST", "/v1/chat")
        assert sent.authorization == "Bearer engine-key"
        assert sent.body["model"] == local_fine_tunes.first
        # The robot's three system messages are replaced by the one the model was trained
        # with; the function turn, the functions and the image are left out.
        assert sent.body["messages"] == [
            {"role": "system", "content": "You are a robot."},
            {"role": "user", "content": "タイマーをかけて"},
            {"role": "assistant", "content": "かけました"},
            {"role": "user", "content": "これは何？"},
        ]
        assert "functions" not in sent.body and "function_call" not in sent.body
        assert sent.body["max_tokens"] == 160
        assert fake_openai.calls("POST", "/v1/chat") == []


async def test_keep_merges_the_robots_system_messages_into_one(
    make_settings, serve, db, repo, keys, local_fine_tunes, http, tmp_path
):
    async with FakeOpenAI(api_key="engine-key") as engine:
        local_fine_tunes.install(tmp_path / "data")
        settings = make_settings(
            data_dir=tmp_path / "data",
            local_engine_url=engine.base_url,
            local_engine_api_key=SecretStr("engine-key"),
            gateway_system_prompt="keep",
        )
        api = await serve(create_app(settings, db=db))
        await repo.assign(4, local_fine_tunes.second, **STAFF)
        robot_key = (await keys.issue(4, **STAFF)).key
        await say(http, f"{api.url}/v1/chat/completions", robot_key, HELLO)
        (sent,) = engine.calls("POST", "/v1/chat")
        assert sent.body["messages"][0] == {
            "role": "system",
            "content": "\n\n".join(
                [stackchan_ex.CHARACTER, stackchan_ex.FIRMWARE_SYSTEM, "User Info: "]
            ),
        }
        assert sent.body["messages"][1:] == HELLO
