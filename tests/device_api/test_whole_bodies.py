"""The gateway reads a robot's request whole, however it arrives, and refuses hostile ones
cleanly: in TCP segments as a robot on Wi-Fi sends them, slowly, chunked, too large, nested
too deep, with NaN, or cut off by a robot that hangs up (tests/http_senders.py sends them).

The device API runs on a real port, OpenAI is the fake OpenAI, keys and counters are in a real
SQLite file; tests/conftest.py fails any test that logs an ERROR.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from aiohttp.log import access_logger
from pydantic import SecretStr

from device_api.app import create_app
from gateway.keys import RobotKeys
from storage.assignments import AssignmentRepository
from storage.database import Database
from storage.robot_keys import RobotKeyRepository
from tests.device_api.conftest import STAFF, RunningApi
from tests.fakes.openai import FakeOpenAI
from tests.gateway.stackchan_ex import request_body
from tests.http_senders import (
    TIMEOUT,
    RawResponse,
    hang_up_before_body,
    read_response,
    request_head,
    send_chunked,
    send_in_segments,
)

CHAT = "/v1/chat/completions"
# A conversation long enough that the firmware's request is several segments (about 5 KB).
HISTORY = [
    {"role": "user", "content": "きょうはなにをしたの？" * 60},
    {"role": "assistant", "content": "こうえんであそんだよ。" * 60},
    {"role": "user", "content": "こんにちは"},
]


@pytest.fixture
async def api(make_settings, serve, db: Database, fake_openai: FakeOpenAI, tmp_path) -> RunningApi:
    settings = make_settings(
        openai_api_key=SecretStr(fake_openai.api_key),
        openai_base_url=fake_openai.base_url,
        data_dir=tmp_path / "data",
    )
    return await serve(create_app(settings, db=db), access_log=access_logger)


@pytest.fixture
async def robot_headers(db: Database) -> dict[str, str]:
    key = (await RobotKeys(RobotKeyRepository(db)).issue(4, **STAFF)).key
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def firmware_body(image: bool = False) -> bytes:
    return json.dumps(request_body(HISTORY, image=image), ensure_ascii=False).encode()


def sent_messages(fake: FakeOpenAI) -> list[list[dict[str, Any]]]:
    return [call.body["messages"] for call in fake.calls("POST", CHAT)]


def error_of(response: RawResponse) -> dict[str, Any]:
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return error


@pytest.mark.parametrize("image", [False, True], ids=["text", "camera"])
async def test_a_request_in_wifi_sized_segments_is_read_whole(
    api, robot_headers, fake_openai, image
):
    body = firmware_body(image)
    assert len(body) > 3 * 1436

    response = await send_in_segments(
        api.host, api.port, request_head("POST", CHAT, body, robot_headers), body
    )

    assert response.status == 200, response.body
    assert "heard: こんにちは" in response.json()["choices"][0]["message"]["content"]
    [messages] = sent_messages(fake_openai)
    assert messages[-3:] == json.loads(body)["messages"][-3:]  # nothing lost on the way


async def test_a_slow_sender_is_waited_for(api, robot_headers, fake_openai):
    body = firmware_body()

    response = await send_in_segments(
        api.host,
        api.port,
        request_head("POST", CHAT, body, robot_headers),
        body,
        segment=500,
        pause=0.02,
    )

    assert response.status == 200, response.body
    assert len(sent_messages(fake_openai)) == 1


async def test_a_chunked_request_is_read_to_its_last_chunk(api, robot_headers, fake_openai):
    body = firmware_body(image=True)
    pieces = [body[i : i + 700] for i in range(0, len(body), 700)]

    response = await send_chunked(
        api.host, api.port, request_head("POST", CHAT, headers=robot_headers, chunked=True), pieces
    )

    assert response.status == 200, response.body
    [messages] = sent_messages(fake_openai)
    assert messages == json.loads(body)["messages"]


async def test_a_large_body_under_the_limit_is_read_whole(api, robot_headers, fake_openai):
    said = "あ" * 330_000  # 990,000 bytes of UTF-8, under the 1,000,000-byte default
    body = json.dumps({"messages": [{"role": "user", "content": said}]}, ensure_ascii=False)
    raw = body.encode()
    assert 990_000 < len(raw) < 1_000_000

    response = await send_in_segments(
        api.host, api.port, request_head("POST", CHAT, raw, robot_headers), raw, segment=64_000
    )

    assert response.status == 200, response.body
    [messages] = sent_messages(fake_openai)
    assert messages[-1]["content"] == said


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_gets_413_without_being_read_to_its_end(
    api, robot_headers, fake_openai, declared
):
    megabyte = b"x" * 1_000_000
    if declared:
        head = request_head("POST", CHAT, headers={**robot_headers, "Content-Length": "100000000"})
        response = await send_in_segments(api.host, api.port, head, megabyte * 100)
    else:
        head = request_head("POST", CHAT, headers=robot_headers, chunked=True)
        response = await send_chunked(api.host, api.port, head, (megabyte for _ in range(100)))

    assert response.status == 413
    assert "1000000" in error_of(response)["message"]
    assert sent_messages(fake_openai) == []


@pytest.mark.parametrize("levels", [100_000, 65])
async def test_a_body_nested_too_deep_is_a_400_not_a_crash(api, robot_headers, fake_openai, levels):
    messages = '[{"role":"user","content":"hi"}]'
    body = ('{"messages":' + messages + ',"metadata":' + "[" * levels + "]" * levels + "}").encode()

    response = await send_in_segments(
        api.host, api.port, request_head("POST", CHAT, body, robot_headers), body
    )

    assert response.status == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert "64" in error["message"]  # how deep a request may be
    assert sent_messages(fake_openai) == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'"temperature":NaN', "temperature"),
        (b'"top_p":Infinity', "top_p"),
        (b'"temperature":-Infinity', "temperature"),
        (b'"temperature":1e999', "temperature"),
        (b'"logit_bias":{"50256":NaN}', "logit_bias.50256"),
    ],
)
async def test_nan_and_infinity_are_refused_naming_the_field(
    api, robot_headers, fake_openai, raw, field
):
    body = b'{"messages":[{"role":"user","content":"hi"}],' + raw + b"}"

    response = await send_in_segments(
        api.host, api.port, request_head("POST", CHAT, body, robot_headers), body
    )

    assert response.status == 400
    error = error_of(response)
    assert error["param"] == field
    assert field in error["message"]
    assert sent_messages(fake_openai) == []  # never forwarded as something that is not JSON


@pytest.mark.parametrize("sent", [0, 100], ids=["head-only", "part-of-the-body"])
async def test_a_robot_that_hangs_up_before_its_body_is_a_failed_chat_not_a_bug(
    api, robot_headers, db, fake_openai, caplog, sent
):
    # No ERROR either: tests/conftest.py's no_errors_logged checks that.
    body = firmware_body()
    head = request_head("POST", CHAT, body, robot_headers)
    repo = AssignmentRepository(db)

    with caplog.at_level(logging.INFO):
        await hang_up_before_body(api.host, api.port, head, body[:sent])
        for _ in range(600):
            if [robot for robot in await repo.overview(4) if robot.usage.requests]:
                break
            await asyncio.sleep(0.05)

    (robot,) = await repo.overview(4)
    assert (robot.usage.requests, robot.usage.errors) == (1, 1)
    left = [r for r in caplog.records if "left before sending its whole request" in r.message]
    assert [r.levelno for r in left] == [logging.INFO]
    assert not [r for r in caplog.records if r.exc_info]
    assert sent_messages(fake_openai) == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", CHAT, "POST"), ("DELETE", CHAT, "POST"), ("POST", "/v1/models", "GET, HEAD")],
)
async def test_a_wrong_method_on_the_gateway_is_an_openai_shaped_405(
    api, robot_headers, method, path, allowed
):
    response = await send_in_segments(
        api.host, api.port, request_head(method, path, b"", robot_headers), b""
    )

    assert response.status == 405
    assert response.headers["allow"] == allowed
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert method in error["message"] and allowed in error["message"]


async def test_an_oversized_header_on_the_gateway_is_an_openai_shaped_400(api, robot_headers):
    headers = {**robot_headers, "X-Junk": "x" * 9000}
    body = firmware_body()

    response = await send_in_segments(
        api.host, api.port, request_head("POST", CHAT, body, headers), body
    )

    assert response.status == 400
    assert error_of(response)["message"].startswith("malformed HTTP request: ")


async def test_the_api_token_in_a_query_string_never_reaches_the_access_log(
    make_settings, serve, db, caplog
):
    token = "s3cret-device-api-token"
    settings = make_settings(device_api_token=SecretStr(token))
    api = await serve(create_app(settings, db=db), access_log=access_logger)

    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        for path in (
            f"/api/v1/stacks?token={token}",
            f"/api/v1/stacks?number=1&access_token={token}",
            f"/api/v1/stacks?x={token}",  # under any name
            f"/get_text?number=1&api_key={token}",
        ):
            response = await send_in_segments(api.host, api.port, request_head("GET", path), b"")
            assert response.status in (200, 401)

    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 4
    assert not [line for line in lines if token in line]
    assert '"GET /get_text?number=1&api_key=***"' in lines[-1]  # the rest stays readable


async def test_a_client_that_expects_100_continue_is_told_to_send_its_body(
    api, robot_headers, fake_openai
):
    body = firmware_body()
    head = request_head("POST", CHAT, body, {**robot_headers, "Expect": "100-continue"})
    reader, writer = await asyncio.open_connection(api.host, api.port)
    try:
        writer.write(head)  # as curl does: the body only after the server says so
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        writer.write(body)
        response = await asyncio.wait_for(read_response(reader), TIMEOUT)
    finally:
        writer.close()

    assert response.status == 200, response.body
    assert len(sent_messages(fake_openai)) == 1
