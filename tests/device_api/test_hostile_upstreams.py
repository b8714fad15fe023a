"""Broken and hostile upstreams behind the robots' gateway: whatever an OpenAI-compatible server
sends, a robot gets either a usable answer that fits it or the documented 502, never a 500, a
traceback or something that is not strict JSON. Through the real device API on a real port, a
real robot key, the AI_StackChan_Ex-shaped robot and the ``openai`` SDK."""

from __future__ import annotations

import json

import openai
import pytest

from i18n import text
from tests.device_api.hostile_gateway import (
    HELLO,
    HostileGateway,
    counted,
    start_hostile_gateway,
)
from tests.gateway import stackchan_ex
from tests.gateway.hostile_upstream import (
    HostileUpstream,
    broken_answers,
    broken_events,
    chunk,
    completion,
    message,
    tool_call,
    usage_chunk,
)
from tests.gateway.stackchan_ex import arduinojson_bytes, say

OPENAI = text("gateway.upstream.openai", "en")
BAD_ANSWER = text("gateway.upstream_bad_answer", "en", upstream=OPENAI)


@pytest.fixture
async def upstream():
    async with HostileUpstream() as server:
        yield server


@pytest.fixture
async def gateway(make_settings, serve, db, upstream, tmp_path) -> HostileGateway:
    return await start_hostile_gateway(make_settings, serve, db, upstream, tmp_path)


@pytest.mark.parametrize(("kind", "body"), broken_answers(), ids=[n for n, _ in broken_answers()])
async def test_an_answer_kobo_cannot_use_is_the_documented_502(
    gateway, upstream, repo, http, kind, body
):
    upstream.answer.body = body

    reply = await say(http, gateway.chat_url, gateway.robot_key, HELLO)

    assert reply.status == 502, reply.body[:300]
    assert reply.spoken == stackchan_ex.DONT_KNOW
    error = json.loads(reply.body)["error"]
    assert error == {
        "message": BAD_ANSWER,
        "type": "server_error",
        "param": None,
        "code": "upstream_error",
    }
    usage = await counted(repo, 1)
    assert (usage.requests, usage.errors) == (1, 1)


@pytest.mark.parametrize(("kind", "event"), broken_events(), ids=[n for n, _ in broken_events()])
async def test_a_stream_that_starts_with_garbage_is_a_502_before_any_header(
    gateway, upstream, repo, kind, event
):
    upstream.stream_json(event)
    async with gateway.sdk() as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(model="x", messages=HELLO, stream=True)
    assert raised.value.status_code == 502
    assert raised.value.body["code"] == "upstream_error"
    usage = await counted(repo, 1)
    assert usage.errors == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["with Content-Length", "chunked"])
async def test_an_answer_too_big_to_read_is_refused_unread(gateway, upstream, http, chunked):
    # 12 MB: kobo stops reading at its bound and never parses it.
    call = tool_call('{"time": "' + "9" * 12_000_000 + '"}')
    upstream.answer_json(completion(message(None, tool_calls=[call]), "tool_calls"))
    upstream.answer.chunked = chunked

    reply = await say(http, gateway.chat_url, gateway.robot_key, HELLO)

    assert reply.status == 502
    error = json.loads(reply.body)["error"]
    assert error["code"] == "upstream_error"
    assert OPENAI in error["message"] and "bytes" in error["message"]


async def test_a_lone_surrogate_is_spoken_as_a_replacement_character(gateway, upstream, http):
    upstream.answer.body = (
        json.dumps(completion(message("X"))).encode().replace(b'"X"', b'"\\ud83d\\u3067\\u3059"')
    )

    reply = await say(http, gateway.chat_url, gateway.robot_key, HELLO)

    assert reply.status == 200
    reply.body.decode("utf-8")  # strict UTF-8
    assert reply.spoken == "\ufffdです"


async def test_a_nul_in_the_answer_does_not_cut_what_the_robot_says(gateway, upstream, http):
    upstream.answer_json(completion(message("はい\u0000、いいえ")))
    reply = await say(http, gateway.chat_url, gateway.robot_key, HELLO)
    assert reply.spoken == "はい、いいえ"


async def test_a_refusal_reaches_the_sdk_and_the_robot_says_it(gateway, upstream, http):
    refusal = "ごめんなさい、それにはお答えできません。"
    upstream.answer_json(completion(message(None, refusal=refusal)))

    async with gateway.sdk() as client:
        answer = await client.chat.completions.create(model="x", messages=HELLO)
    assert answer.choices[0].message.refusal == refusal
    for firmware in (stackchan_ex.ARDUINOJSON6, stackchan_ex.CURRENT):
        reply = await say(http, gateway.chat_url, gateway.robot_key, HELLO, firmware=firmware)
        assert reply.spoken == refusal, firmware.name


async def test_an_upstreams_absurd_retry_after_is_not_passed_on(gateway, upstream, http):
    upstream.answer_json(
        {"error": {"message": "slow down", "type": "rate_limit_exceeded"}},
        status=429,
        **{"Retry-After": "99999999999999999999"},
    )
    async with http.post(
        gateway.chat_url, json={"messages": HELLO}, headers=gateway.headers()
    ) as response:
        assert response.status == 429
        # The SDK does not retry at all after more than a minute.
        assert response.headers["Retry-After"] == "60"


async def test_answers_have_openais_required_fields_and_no_server_header(gateway, upstream, http):
    upstream.answer_json(completion({"role": "assistant", "content": "はい"}))  # no refusal
    async with http.post(
        gateway.chat_url, json={"messages": HELLO}, headers=gateway.headers()
    ) as response:
        answer = await response.json()
        assert "Server" not in response.headers
    (choice,) = answer["choices"]
    assert choice["logprobs"] is None
    assert choice["message"] == {"role": "assistant", "content": "はい", "refusal": None}

    upstream.stream_json(
        {"choices": [{"delta": {"role": "assistant", "content": "は"}}]},  # bare, as some send
        chunk({"content": "い"}, finish="stop"),
        usage_chunk(),
    )
    body = {"messages": HELLO, "stream": True}
    async with http.post(gateway.chat_url, json=body, headers=gateway.headers()) as response:
        assert response.status == 200
        assert "Server" not in response.headers
        raw = await response.read()
    events = [line[6:] for line in raw.decode().split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert len({(c["id"], c["created"]) for c in chunks}) == 1
    for piece in chunks:
        assert piece["object"] == "chat.completion.chunk"
        for choice in piece["choices"]:
            assert set(choice) >= {"index", "delta", "finish_reason"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 12


async def test_function_and_tool_calls_are_held_to_the_byte_cap(gateway, upstream, http):
    # What gpt-4o may well answer: some text and three calls, 2.7 KB in all.
    calls = [tool_call(json.dumps({"time": 60, "note": "あ" * 250}), i) for i in range(3)]
    upstream.answer_json(completion(message("タイマーをかけます。" * 20, tool_calls=calls)))

    reply = await say(http, gateway.chat_url, gateway.robot_key, HELLO)

    assert reply.status == 200
    assert len(reply.body) <= 1400
    assert arduinojson_bytes(json.loads(reply.body)) <= stackchan_ex.JSON_MEMORY
    answer = json.loads(reply.body)["choices"][0]
    assert answer["finish_reason"] == "length"
    # Calls are whole or left out, never cut: half the arguments would be run.
    for call in answer["message"].get("tool_calls", []):
        assert call in calls


async def test_a_huge_function_call_is_left_out_rather_than_sent(gateway, upstream, http):
    call = {"name": "timer", "arguments": json.dumps({"time": 60, "x": "9" * 200_000})}
    upstream.answer_json(completion(message(None, function_call=call), "function_call"))

    reply = await say(http, gateway.chat_url, gateway.robot_key, HELLO)

    assert reply.status == 200
    assert len(reply.body) <= 1400
    answer = json.loads(reply.body)["choices"][0]
    assert answer["finish_reason"] == "length"
    assert "function_call" not in answer["message"]
    assert reply.spoken == "" and reply.called is None  # says nothing, runs nothing


async def test_a_streamed_answer_is_held_to_the_byte_cap(gateway, upstream, repo):
    upstream.stream_json(
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": "あいうえお" * 10}) for _ in range(100)),  # 5,000 characters
        chunk({}, finish="stop"),
        usage_chunk(completion_tokens=5000),
    )
    async with gateway.sdk() as client:
        stream = await client.chat.completions.create(model="x", messages=HELLO, stream=True)
        chunks = [piece async for piece in stream]
    said = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert 1400 - 3 < len(said.encode()) <= 1400
    assert ("あいうえお" * 1000).startswith(said)  # cut between two characters
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "length" and finishes.count("length") == 1
    assert chunks[-1].usage.completion_tokens == 5000  # still counted
    usage = await counted(repo, 1)
    assert (usage.errors, usage.completion_tokens) == (0, 5000)


async def test_current_firmware_is_answered_and_its_request_passed_on(gateway, upstream, http):
    upstream.answer_json(completion(message("やあ、元気？")))
    reply = await say(
        http, gateway.chat_url, gateway.robot_key, HELLO, firmware=stackchan_ex.CURRENT
    )
    assert reply.status == 200
    assert reply.spoken == "やあ、元気？"
    sent = upstream.requests[-1]
    assert sent["stream"] is False
    assert "functions" not in sent and "function_call" not in sent
    assert "stream_options" not in sent
