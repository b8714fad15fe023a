"""The robots' chat gateway over HTTP: robot keys, routing to OpenAI with kobo's key, the
AI_StackChan_Ex request shape and byte budget, the openai SDK as a client, limits and errors.

The device API runs on a real port; OpenAI is the fake OpenAI on 127.0.0.1; keys, assignments
and counters are in a real SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import openai
import pytest
from aiohttp import web
from pydantic import SecretStr

from device_api.app import create_app
from gateway.keys import RobotKeys
from i18n import text
from storage.assignments import AssignmentRepository
from storage.database import Database
from storage.robot_keys import RobotKeyRepository
from tests.device_api.conftest import STAFF, RunningApi
from tests.fakes.openai import FakeOpenAI
from tests.gateway import stackchan_ex
from tests.gateway.stackchan_ex import arduinojson_bytes, say
from tests.openapi.clients import openai_client

FINE_TUNE = "ft:gpt-4o-mini-2024-07-18:acme:stack4:AbC123"
OTHER = "gpt-4.1-mini"
HELLO = [{"role": "user", "content": "こんにちは"}]


@pytest.fixture
async def gateway_api(
    make_settings, serve, db: Database, fake_openai: FakeOpenAI, tmp_path
) -> Callable[..., Awaitable[RunningApi]]:
    async def start(**overrides: Any) -> RunningApi:
        settings = make_settings(
            openai_api_key=SecretStr(fake_openai.api_key),
            openai_base_url=fake_openai.base_url,
            data_dir=tmp_path / "data",
            **overrides,
        )
        return await serve(create_app(settings, db=db))

    return start


@pytest.fixture
def keys(db: Database) -> RobotKeys:
    return RobotKeys(RobotKeyRepository(db))


def chat_url(api: RunningApi) -> str:
    return f"{api.url}/v1/chat/completions"


def chats(fake: FakeOpenAI):
    return fake.calls("POST", "/v1/chat/completions")


async def test_a_robot_gets_its_assigned_model_through_kobo_with_kobos_openai_key(
    gateway_api, keys, repo: AssignmentRepository, fake_openai, http
):
    api = await gateway_api()
    await repo.assign(4, FINE_TUNE, **STAFF)
    robot_key = (await keys.issue(4, **STAFF)).key

    reply = await say(http, chat_url(api), robot_key, HELLO)

    assert reply.status == 200
    assert reply.spoken == f"{FINE_TUNE} heard: こんにちは"
    (sent,) = chats(fake_openai)
    # OpenAI sees kobo's key, never the robot's, and the model kobo chose for robot 4.
    assert sent.authorization == f"Bearer {fake_openai.api_key}"
    assert robot_key not in json.dumps(sent.body)
    assert sent.body["model"] == FINE_TUNE
    # Everything the firmware sent goes to OpenAI, within kobo's limits.
    assert [m["role"] for m in sent.body["messages"]] == ["system", "system", "system", "user"]
    assert sent.body["functions"] == stackchan_ex.FUNCTIONS
    assert sent.body["function_call"] == "auto"
    assert sent.body["max_completion_tokens"] == 160
    assert sent.body["temperature"] == 0.7


async def test_reassigning_changes_the_model_of_the_very_next_request(
    gateway_api, keys, repo, fake_openai, http
):
    api = await gateway_api()
    await repo.assign(4, FINE_TUNE, **STAFF)
    robot_key = (await keys.issue(4, **STAFF)).key
    assert (await say(http, chat_url(api), robot_key, HELLO)).spoken.startswith(FINE_TUNE)

    await repo.assign(4, OTHER, **STAFF)
    assert (await say(http, chat_url(api), robot_key, HELLO)).spoken.startswith(OTHER)

    await repo.unassign(4, **STAFF)  # back to DEFAULT_MODEL
    reply = await say(http, chat_url(api), robot_key, HELLO)
    assert reply.spoken.startswith("gpt-4.1-nano-2025-04-14 heard")
    assert [c.body["model"] for c in chats(fake_openai)] == [
        FINE_TUNE,
        OTHER,
        "gpt-4.1-nano-2025-04-14",
    ]


async def test_a_revoked_replaced_or_made_up_key_gets_401_and_reaches_nobody(
    gateway_api, keys, fake_openai, http
):
    api = await gateway_api()
    first = (await keys.issue(4, **STAFF)).key
    second = (await keys.issue(4, **STAFF)).key  # replaces the first
    five = (await keys.issue(5, **STAFF)).key
    assert await keys.revoke(5, **STAFF)

    for key in (first, five, "kobo-4-" + "x" * 43, "sk-not-a-kobo-key", second + "x"):
        reply = await say(http, chat_url(api), key, HELLO)
        assert reply.status == 401, key
        assert reply.spoken == stackchan_ex.DONT_KNOW
        error = json.loads(reply.body)["error"]
        assert error["code"] == "invalid_api_key"
        assert error["message"] == text("gateway.key_invalid", "en")
    async with http.post(chat_url(api), json={"messages": HELLO}) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert chats(fake_openai) == []
    assert (await say(http, chat_url(api), second, HELLO)).status == 200


async def test_the_openai_sdk_works_against_kobo_streaming_and_not(
    gateway_api, keys, repo, fake_openai
):
    api = await gateway_api()
    await repo.assign(7, FINE_TUNE, **STAFF)
    client = openai_client(f"{api.url}/v1", (await keys.issue(7, **STAFF)).key, max_retries=0)
    async with client:
        completion = await client.chat.completions.create(
            model="whatever-the-robot-says", messages=[{"role": "user", "content": "hi"}]
        )
        assert completion.model == FINE_TUNE
        assert completion.choices[0].message.content == f"{FINE_TUNE} heard: hi"
        assert completion.usage.completion_tokens == len(f"{FINE_TUNE} heard: hi")

        stream = await client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi there"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
        said = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert said == f"{FINE_TUNE} heard: hi there"
        assert {c.model for c in chunks} == {FINE_TUNE}
        assert chunks[-1].usage.completion_tokens == len(said)

        models = await client.models.list()
        assert models.data[0].id == FINE_TUNE
    sent = chats(fake_openai)[-1]
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}


async def test_a_long_answer_is_cut_to_fit_the_robots_json_memory(
    gateway_api, keys, fake_openai, http
):
    api = await gateway_api(gateway_max_answer_tokens=2000)
    fake_openai.chat_reply = "ながい\n" * 400  # 4,000 bytes of Japanese
    robot_key = (await keys.issue(4, **STAFF)).key

    reply = await say(http, chat_url(api), robot_key, HELLO, image=True)

    assert reply.status == 200
    assert len(reply.body) <= 1400
    answer = json.loads(reply.body)
    assert arduinojson_bytes(answer) <= stackchan_ex.JSON_MEMORY
    assert answer["choices"][0]["finish_reason"] == "length"
    assert reply.spoken.startswith("ながい ながい")
    assert "\\u" not in reply.body.decode()  # Japanese as UTF-8, half the bytes of escapes
    # The image went to OpenAI as the robot sent it.
    parts = chats(fake_openai)[-1].body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]


async def test_the_same_long_answer_without_the_gateway_would_break_the_robot():
    """Why the cut above matters: OpenAI's own body for that answer does not fit."""
    content = "ながい\n" * 400
    body = {"id": "chatcmpl-x", "choices": [{"message": {"content": content}}]}
    assert arduinojson_bytes(body) > stackchan_ex.JSON_MEMORY


async def test_more_robots_than_the_limit_get_429_with_retry_after_never_a_hang(
    gateway_api, keys, fake_openai, http
):
    api = await gateway_api(gateway_max_concurrent=1, gateway_max_queued=0)
    in_flight = fake_openai.hold_next(1, path_prefix="/v1/chat")
    one, two = (await keys.issue(1, **STAFF)).key, (await keys.issue(2, **STAFF)).key

    first = asyncio.create_task(say(http, chat_url(api), one, HELLO))
    await fake_openai.wait_for_request("/v1/chat")
    second = await say(http, chat_url(api), two, HELLO)

    assert second.status == 429
    assert second.spoken == stackchan_ex.DONT_KNOW
    async with http.post(
        chat_url(api), json={"messages": HELLO}, headers={"Authorization": f"Bearer {two}"}
    ) as response:
        assert response.status == 429
        assert int(response.headers["Retry-After"]) >= 1
        error = (await response.json())["error"]
        assert error["type"] == "rate_limit_exceeded"
    in_flight.set()
    assert (await first).status == 200


async def test_a_queued_request_is_served_when_a_place_frees_up(
    gateway_api, keys, fake_openai, http
):
    api = await gateway_api(gateway_max_concurrent=1, gateway_max_queued=4)
    fake_openai.delay_next(1, 0.5, path_prefix="/v1/chat")
    robot_keys = [(await keys.issue(n, **STAFF)).key for n in (1, 2, 3)]
    replies = await asyncio.gather(*(say(http, chat_url(api), k, HELLO) for k in robot_keys))
    assert [r.status for r in replies] == [200, 200, 200]


async def test_a_slow_upstream_gives_an_openai_shaped_504(gateway_api, keys, fake_openai, http):
    api = await gateway_api(gateway_upstream_timeout_seconds=0.3)
    fake_openai.delay_next(1, 3.0, path_prefix="/v1/chat")
    robot_key = (await keys.issue(4, **STAFF)).key
    client = openai_client(f"{api.url}/v1", robot_key, max_retries=0)
    async with client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(model="x", messages=HELLO)
    assert raised.value.status_code == 504
    assert raised.value.body["type"] == "timeout"
    assert raised.value.body["message"] == text(
        "gateway.upstream_timeout",
        "en",
        upstream=text("gateway.upstream.openai", "en"),
        seconds="0.3",
    )


async def test_kobos_refused_openai_key_is_not_the_robots_401(gateway_api, keys, fake_openai, http):
    api = await gateway_api()
    fake_openai.fail_next(1, 401, path_prefix="/v1/chat")
    reply = await say(http, chat_url(api), (await keys.issue(4, **STAFF)).key, HELLO)
    assert reply.status == 502
    assert json.loads(reply.body)["error"]["message"] == text("gateway.openai_key_refused", "en")


async def test_a_bad_request_names_the_field(gateway_api, keys, fake_openai, http):
    api = await gateway_api()
    headers = {"Authorization": f"Bearer {(await keys.issue(4, **STAFF)).key}"}
    bad = {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]}
    async with http.post(chat_url(api), json=bad, headers=headers) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["param"] == "messages[1].role"
    assert error["type"] == "invalid_request_error"
    async with http.post(chat_url(api), data=b"{not json", headers=headers) as response:
        assert response.status == 400
    async with http.get(f"{api.url}/v1/embeddings", headers=headers) as response:
        assert response.status == 404
        assert "error" in await response.json()
    assert chats(fake_openai) == []


async def test_requests_tokens_and_errors_are_counted_per_robot(
    gateway_api, keys, repo, fake_openai, http
):
    api = await gateway_api()
    robot_key = (await keys.issue(4, **STAFF)).key
    await say(http, chat_url(api), robot_key, HELLO)
    await say(http, chat_url(api), robot_key, HELLO)
    fake_openai.fail_next(1, 500, path_prefix="/v1/chat")
    failed = await say(http, chat_url(api), robot_key, HELLO)
    assert failed.status == 502

    (robot,) = await repo.overview(4)
    assert robot.usage.requests == 3
    assert robot.usage.errors == 1
    answered = [c for c in chats(fake_openai) if c.status == 200]
    assert robot.usage.completion_tokens == 2 * len("gpt-4.1-nano-2025-04-14 heard: こんにちは")
    assert len(answered) == 2


async def test_a_robot_that_chats_is_recorded_as_seen(gateway_api, keys, repo, http):
    api = await gateway_api()
    await say(http, chat_url(api), (await keys.issue(9, **STAFF)).key, HELLO)
    await api.stop()  # flushes the sightings
    (robot,) = await repo.overview(9)
    assert robot.last_seen_address == "127.0.0.1"


async def test_without_an_openai_key_openai_models_get_a_clear_503(
    make_settings, serve, db, keys, http, tmp_path
):
    api = await serve(create_app(make_settings(data_dir=tmp_path), db=db))
    reply = await say(http, chat_url(api), (await keys.issue(4, **STAFF)).key, HELLO)
    assert reply.status == 503
    assert "OPENAI_API_KEY" in json.loads(reply.body)["error"]["message"]


async def test_a_robot_that_hangs_up_mid_answer_is_a_failed_chat_not_a_bug(
    make_settings, serve, db, keys, repo, http, tmp_path
):
    # Nothing is logged as an error either: tests/conftest.py's no_errors_logged checks that.
    # An upstream that streams a piece every 10 ms for as long as anyone listens.
    async def endless_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"choices": [{"index": 0, "delta": {"content": "あ"}, "finish_reason": None}]}
        with contextlib.suppress(ConnectionResetError):  # kobo hangs up too, as it should
            for _ in range(1000):
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                await asyncio.sleep(0.01)
        return response

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", endless_stream)
    slow = web.AppRunner(upstream)
    await slow.setup()
    await web.TCPSite(slow, "127.0.0.1", 0).start()
    try:
        await hang_up_mid_answer(
            await serve(
                create_app(
                    make_settings(
                        data_dir=tmp_path,
                        openai_api_key=SecretStr("sk-kobo"),
                        openai_base_url=f"http://127.0.0.1:{slow.addresses[0][1]}/v1",
                    ),
                    db=db,
                )
            ),
            (await keys.issue(4, **STAFF)).key,
            http,
        )
        for _ in range(600):
            if [r for r in await repo.overview(4) if r.usage.requests]:
                break
            await asyncio.sleep(0.05)
    finally:
        await slow.cleanup()
    (robot,) = await repo.overview(4)
    assert robot.usage.errors == 1


async def hang_up_mid_answer(api: RunningApi, robot_key: str, http) -> None:
    body = {"model": "gpt-4o-mini", "messages": HELLO, "stream": True}
    headers = {"Authorization": f"Bearer {robot_key}"}
    async with http.post(chat_url(api), json=body, headers=headers) as response:
        assert response.status == 200
        await response.content.readline()  # the first piece, then the robot is gone
        response.connection.transport.abort()
