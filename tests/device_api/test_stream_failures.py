"""A streamed answer that fails after its first piece: too late for a status code, so it ends
as OpenAI ends one, with an error event and then ``[DONE]``; never a second HTTP response
written into the first, never a traceback in the log; the chat counts as failed."""

from __future__ import annotations

import json
import logging

import openai
import pytest
from aiohttp import web

from device_api.chat import OPEN_STREAM, openai_errors
from i18n import text
from tests.device_api.hostile_gateway import HELLO, counted, start_hostile_gateway
from tests.gateway.hostile_upstream import HostileUpstream, Raw, broken_events, chunk

FIRST = chunk({"role": "assistant", "content": "はい、"})
BREAKS = [
    *broken_events(),
    ("the upstream hangs up mid-line", Raw(b'data: {"choices": [{"delta": {"con')),
]


@pytest.fixture
async def upstream():
    async with HostileUpstream() as server:
        yield server


@pytest.fixture
async def gateway(make_settings, serve, db, upstream, tmp_path):
    return await start_hostile_gateway(make_settings, serve, db, upstream, tmp_path)


def breaking_after_the_first_piece(upstream: HostileUpstream, kind: str, event) -> None:
    upstream.stream_json(FIRST, event)
    if isinstance(event, Raw):
        upstream.events.pop()  # no [DONE]: the connection is cut instead
        upstream.hang_up_after_events = True


@pytest.mark.parametrize(("kind", "event"), BREAKS, ids=[kind for kind, _ in BREAKS])
async def test_the_sdk_gets_the_first_piece_then_an_api_error(gateway, upstream, repo, kind, event):
    breaking_after_the_first_piece(upstream, kind, event)

    async with gateway.sdk() as client:
        stream = await client.chat.completions.create(model="x", messages=HELLO, stream=True)
        said = []
        with pytest.raises(openai.APIError) as raised:
            async for piece in stream:
                said += [c.delta.content for c in piece.choices]
    assert said == ["はい、"]
    # The error kobo sent, as an event: not a broken connection (APIConnectionError).
    assert not isinstance(raised.value, openai.APIConnectionError)
    assert raised.value.body["code"] in ("upstream_error", "upstream_unavailable")
    usage = await counted(repo, 1)
    assert (usage.requests, usage.errors) == (1, 1)


@pytest.mark.parametrize(("kind", "event"), BREAKS, ids=[kind for kind, _ in BREAKS])
async def test_the_stream_ends_with_an_error_event_and_done_in_one_response(
    gateway, upstream, http, kind, event
):
    breaking_after_the_first_piece(upstream, kind, event)
    body = {"messages": HELLO, "stream": True}

    async with http.post(gateway.chat_url, json=body, headers=gateway.headers()) as response:
        assert response.status == 200
        raw = await response.read()  # a clean end of the chunked body, or this raises

    assert b"HTTP/1." not in raw
    events = raw.decode().split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    error = json.loads(events[-3].removeprefix("data: "))["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert json.loads(events[0].removeprefix("data: "))["choices"][0]["delta"]["content"] == (
        "はい、"
    )


async def test_a_bug_after_a_stream_began_ends_it_instead_of_writing_a_500_into_it(http, caplog):
    """Any handler behind openai_errors: a streamed answer it began is ended with an error
    event, whatever went wrong after."""

    async def starts_then_breaks(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        request[OPEN_STREAM] = response
        await response.write(b'data: {"choices": []}\n\n')
        raise RuntimeError("a bug")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", openai_errors(starts_then_breaks))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/chat/completions"
        async with http.post(url, json={}) as response:
            assert response.status == 200
            raw = await response.read()
    finally:
        await runner.cleanup()

    assert b"HTTP/1." not in raw
    events = raw.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert json.loads(events[-3].removeprefix("data: "))["error"]["message"] == text(
        "gateway.unexpected", "en"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "unexpected error answering POST /v1/chat/completions"
    ]
    caplog.clear()  # that traceback is the bug's, as it should be
