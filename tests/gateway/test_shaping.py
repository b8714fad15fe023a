"""What the gateway sends upstream and what a robot gets back, field by field."""

from __future__ import annotations

import json

import pytest

from gateway.errors import BadChatRequest, Overloaded, UpstreamTimeout
from gateway.shaping import (
    ChatPolicy,
    TextBudget,
    compact_answer,
    fit_body,
    local_body,
    openai_body,
    read_chat_request,
)
from i18n import msg, text

POLICY = ChatPolicy(
    max_answer_tokens=100, max_reply_bytes=600, temperature=0.7, system_prompt="replace"
)


def upstream_answer(content: str | None, **message: object) -> dict:
    return {
        "id": "chatcmpl-" + "x" * 100,
        "object": "chat.completion",
        "created": 1,
        "model": "engine-internal-name.gguf",
        "system_fingerprint": "fp",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None, **message},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "extra": {}},
        "timings": {"prompt_ms": 1.0},
    }


def test_the_answer_keeps_only_what_clients_read_under_kobos_model_name():
    answer = compact_answer(upstream_answer("やあ"), "ft:tiny:kobo:x:1")
    assert answer == {
        "id": "chatcmpl-" + "x" * 55,
        "object": "chat.completion",
        "created": 1,
        "model": "ft:tiny:kobo:x:1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "やあ", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


def test_a_function_call_is_passed_on_for_the_firmware_to_run():
    call = {"name": "timer", "arguments": '{"time": 60}'}
    message = compact_answer(upstream_answer(None, function_call=call), "gpt-4o")["choices"][0][
        "message"
    ]
    assert message == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "function_call": call,
    }


@pytest.mark.parametrize("content", ["あ" * 500, 'say "hi"\n' * 100, "a" * 2000])
def test_an_answer_too_long_for_the_robot_is_cut_at_a_character(content):
    body = fit_body(compact_answer(upstream_answer(content), "gpt-4o"), 600)
    assert len(body) <= 600
    answer = json.loads(body)  # still valid JSON and UTF-8
    assert content.startswith(answer["choices"][0]["message"]["content"])
    assert len(body) > 550  # cut no more than needed
    assert answer["choices"][0]["finish_reason"] == "length"


def test_a_short_answer_is_left_alone():
    answer = compact_answer(upstream_answer("はい"), "gpt-4o")
    assert json.loads(fit_body(answer, 600))["choices"][0]["finish_reason"] == "stop"


def test_openai_gets_everything_the_robot_sent_within_the_limits():
    request = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "functions": [{"name": "timer"}],
        "function_call": "auto",
        "max_tokens": 5000,
        "n": 3,
    }
    body = openai_body(request, "ft:gpt-4o-mini:x", POLICY)
    assert body == {
        "model": "ft:gpt-4o-mini:x",
        "messages": [{"role": "user", "content": "hi"}],
        "functions": [{"name": "timer"}],
        "function_call": "auto",
        "max_completion_tokens": 100,
        "temperature": 0.7,
    }
    assert (
        openai_body({**request, "max_tokens": 20, "temperature": 9}, "m", POLICY)[
            "max_completion_tokens"
        ]
        == 20
    )
    assert openai_body({**request, "temperature": 9}, "m", POLICY)["temperature"] == 2.0


def test_a_local_model_gets_text_turns_and_its_trained_system_prompt():
    request = {
        "messages": [
            {"role": "system", "content": "character"},
            {"role": "system", "content": "firmware"},
            {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url"}]},
            {"role": "assistant", "content": None, "function_call": {"name": "x"}},
            {"role": "function", "name": "x", "content": "done"},
            {"role": "user", "content": "and now?"},
        ],
        "functions": [{"name": "x"}],
        "top_p": 0.5,
        "logit_bias": {"1": 100},
    }
    body = local_body(request, "ft:tiny", "trained prompt", POLICY)
    assert body == {
        "model": "ft:tiny",
        "messages": [
            {"role": "system", "content": "trained prompt"},
            {"role": "user", "content": "look"},
            {"role": "user", "content": "and now?"},
        ],
        "max_tokens": 100,
        "stream": False,
        "temperature": 0.7,
        "top_p": 0.5,
    }
    keep = ChatPolicy(100, 600, None, "keep")
    kept = local_body(request, "ft:tiny", "trained prompt", keep)
    assert kept["messages"][0] == {"role": "system", "content": "character\n\nfirmware"}
    assert "temperature" not in kept


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ([], None),
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ],
)
def test_a_bad_request_names_its_field(payload, param):
    with pytest.raises(BadChatRequest) as raised:
        read_chat_request(payload)
    assert raised.value.param == param
    assert raised.value.body()["error"]["type"] == "invalid_request_error"


def test_a_conversation_without_a_user_turn_is_refused_for_local_models():
    with pytest.raises(BadChatRequest) as raised:
        local_body({"messages": [{"role": "system", "content": "x"}]}, "m", None, POLICY)
    assert raised.value.message.key == "gateway.request.no_user_message"


@pytest.mark.parametrize("language", ["ja", "en"])
def test_errors_read_in_both_languages(language):
    overloaded = Overloaded(7)
    assert overloaded.render(language) == text("gateway.overloaded", language, seconds=7)
    assert overloaded.headers() == {"Retry-After": "7"}
    slow = UpstreamTimeout(msg("gateway.upstream.local"), 2.5)
    assert slow.render(language) == text(
        "gateway.upstream_timeout",
        language,
        upstream=text("gateway.upstream.local", language),
        seconds="2.5",
    )
    assert slow.status == 504
    assert slow.body()["error"]["message"] == slow.render("en")


def test_calls_that_do_not_fit_are_left_out_whole_last_first():
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "t", "arguments": "x" * 200}}
        for i in range(4)
    ]
    answer = compact_answer(upstream_answer("はい" * 100, tool_calls=calls), "gpt-4o")
    body = fit_body(answer, 1000)
    assert len(body) <= 1000
    message = json.loads(body)["choices"][0]["message"]
    assert message["tool_calls"] == calls[:2]  # the two that fit, whole
    assert ("はい" * 100).startswith(message["content"])  # and as much text as fits beside them
    assert json.loads(body)["choices"][0]["finish_reason"] == "length"


def test_a_streamed_answers_text_is_cut_at_a_character_within_the_budget():
    budget = TextBudget(10)
    pieces = []
    for said in ("あいう", "えお"):  # 9 bytes, then 6
        piece = {"choices": [{"index": 0, "delta": {"content": said}, "finish_reason": None}]}
        budget.take(piece)
        pieces.append(piece["choices"][0])
    assert [p["delta"]["content"] for p in pieces] == ["あいう", ""]
    assert [p["finish_reason"] for p in pieces] == [None, "length"]


def test_openai_is_not_asked_for_what_kobo_would_throw_away():
    request = {"messages": [], "logprobs": True, "top_logprobs": 20, "modalities": ["audio"]}
    assert set(openai_body(request, "gpt-4o", POLICY)) == {
        "messages",
        "model",
        "max_completion_tokens",
        "temperature",
    }
