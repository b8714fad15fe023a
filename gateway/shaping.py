"""What the gateway sends upstream, and the compact answer it sends back to a robot.

The robot's request is hostile input: it is checked field by field (errors name the field) and
rebuilt, never forwarded blindly. So is the upstream's answer: kobo rebuilds it in OpenAI's shape
from the fields it knows, each checked, and an answer it cannot use raises
:class:`UnusableAnswer`. Server-side limits apply whatever the robot asks: at most
``max_answer_tokens`` tokens, one choice, and an answer of at most ``max_reply_bytes`` bytes
(the whole body; a streamed answer's text), so that the ~2,000 bytes of JSON memory of
firmware built with ArduinoJson 6 always hold it.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gateway.errors import BadChatRequest
from i18n import msg

ROLES = ("system", "developer", "user", "assistant", "function", "tool")
# Sampling fields a local engine understands as OpenAI does; anything else is left out.
LOCAL_SAMPLING = ("top_p", "stop", "seed", "presence_penalty", "frequency_penalty")
MAX_ID_CHARS = 64
# Asked of OpenAI, these only make its answer bigger: kobo passes none of them on.
ANSWER_EXTRAS = ("n", "logprobs", "top_logprobs", "modalities", "audio")
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")
# A tool call's kind and the text fields it carries (OpenAI's function and custom tools).
TOOL_FIELDS = {"function": ("name", "arguments"), "custom": ("name", "input")}
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# JSON's safe integers: bigger "counts" from an upstream are nonsense.
MAX_COUNT = 2**53


@dataclass(frozen=True)
class ChatPolicy:
    max_answer_tokens: int
    max_reply_bytes: int
    temperature: float | None  # used when the request gives none
    system_prompt: Literal["replace", "keep"]


def read_chat_request(payload: Any) -> dict[str, Any]:
    """``payload`` if it is a chat request we can answer, else :class:`BadChatRequest`."""
    if not isinstance(payload, dict):
        raise BadChatRequest(msg("gateway.request.not_an_object"))
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadChatRequest(msg("gateway.request.no_messages"), "messages")
    for index, message in enumerate(messages):
        field = f"messages[{index}]"
        if not isinstance(message, dict):
            raise BadChatRequest(msg("gateway.request.message_not_an_object", field=field), field)
        if message.get("role") not in ROLES:
            raise BadChatRequest(
                msg("gateway.request.bad_role", field=f"{field}.role", roles=", ".join(ROLES)),
                f"{field}.role",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise BadChatRequest(
                msg("gateway.request.bad_content", field=f"{field}.content"), f"{field}.content"
            )
    for name in ("max_tokens", "max_completion_tokens"):
        value = payload.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise BadChatRequest(msg("gateway.request.bad_max_tokens", field=name), name)
    temperature = payload.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or isinstance(temperature, bool)
    ):
        raise BadChatRequest(msg("gateway.request.bad_temperature"), "temperature")
    if not isinstance(payload.get("stream", False), bool):
        raise BadChatRequest(msg("gateway.request.bad_stream"), "stream")
    return payload


def answer_tokens(request: dict[str, Any], policy: ChatPolicy) -> int:
    asked = request.get("max_completion_tokens") or request.get("max_tokens")
    return min(asked or policy.max_answer_tokens, policy.max_answer_tokens)


def temperature(request: dict[str, Any], policy: ChatPolicy) -> float | None:
    asked = request.get("temperature")
    if asked is None:
        return policy.temperature
    return min(max(float(asked), 0.0), 2.0)


def openai_body(request: dict[str, Any], model: str, policy: ChatPolicy) -> dict[str, Any]:
    """For OpenAI: the robot's request as it is (functions and images too), within the limits."""
    body = {
        key: value for key, value in request.items() if key not in ("max_tokens", *ANSWER_EXTRAS)
    }
    body["model"] = model
    body["max_completion_tokens"] = answer_tokens(request, policy)
    chosen = temperature(request, policy)
    if chosen is not None:
        body["temperature"] = chosen
    if request.get("stream"):
        body["stream_options"] = {"include_usage": True}
    else:
        body.pop("stream_options", None)
    return body


def local_body(
    request: dict[str, Any], model: str, trained_system_prompt: str | None, policy: ChatPolicy
) -> dict[str, Any]:
    """For a local model: plain text messages only (it cannot call functions or see images),
    with the system prompt it was trained with when the policy says so."""
    body: dict[str, Any] = {
        "model": model,
        "messages": local_messages(request["messages"], trained_system_prompt, policy),
        "max_tokens": answer_tokens(request, policy),
        "stream": bool(request.get("stream")),
    }
    chosen = temperature(request, policy)
    if chosen is not None:
        body["temperature"] = chosen
    for name in LOCAL_SAMPLING:
        if request.get(name) is not None:
            body[name] = request[name]
    if body["stream"]:
        body["stream_options"] = {"include_usage": True}
    return body


def local_messages(
    messages: list[dict[str, Any]], trained_system_prompt: str | None, policy: ChatPolicy
) -> list[dict[str, str]]:
    system_texts: list[str] = []
    turns: list[dict[str, str]] = []
    for message in messages:
        role = message["role"]
        content = _text_of(message.get("content"))
        if role in ("system", "developer"):
            if content:
                system_texts.append(content)
        elif role in ("user", "assistant") and content:
            # Function results and function-call turns (no text) mean nothing to the model.
            turns.append({"role": role, "content": content})
    if not any(turn["role"] == "user" for turn in turns):
        raise BadChatRequest(msg("gateway.request.no_user_message"), "messages")
    if policy.system_prompt == "replace":
        system_texts = [trained_system_prompt] if trained_system_prompt else []
    # Many chat templates take one system message, and only first.
    system = [{"role": "system", "content": "\n\n".join(system_texts)}] if system_texts else []
    return system + turns


def _text_of(content: str | list | None) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def of(cls, payload: Any) -> Usage:
        usage = payload.get("usage") if isinstance(payload, dict) else None
        if not isinstance(usage, dict):
            return cls()
        return cls(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))

    def as_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def _count(value: Any) -> int:
    return value if _is_count(value) else 0


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_COUNT


def dump(payload: Any) -> bytes:
    # ensure_ascii=False: Japanese is 3 bytes in UTF-8 but 6 as \\uXXXX, and bytes are what the
    # robot's buffer counts. allow_nan=False: kobo never sends what is not strict JSON.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


class UnusableAnswer(ValueError):
    """An upstream answer kobo cannot pass on; the text says which part, for the log."""


def compact_answer(upstream: dict[str, Any], model: str) -> dict[str, Any]:
    """The upstream's answer rebuilt in OpenAI's shape with only what a client reads, named
    after kobo's ``model``; :class:`UnusableAnswer` when it is not a chat completion."""
    choice = _first_choice(upstream, "message")
    finish = choice.get("finish_reason")
    return {
        "id": _answer_id(upstream.get("id")),
        "object": "chat.completion",
        "created": _created(upstream.get("created")),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": _message(choice["message"]),
                "logprobs": None,
                "finish_reason": finish if finish in FINISH_REASONS else "stop",
            }
        ],
        "usage": Usage.of(upstream).as_json(),
    }


def compact_chunk(upstream: Any, answer_id: str, created: int, model: str) -> dict[str, Any]:
    """One streamed chunk rebuilt the same way; every chunk of an answer has kobo's
    ``answer_id`` and ``created``. The last one may have no choice, only ``usage``."""
    if not isinstance(upstream, dict):
        raise UnusableAnswer("a chunk is not a JSON object")
    choices = []
    if upstream.get("choices") not in (None, []):
        choice = _first_choice(upstream, "delta")
        finish = choice.get("finish_reason")
        choices.append(
            {
                "index": 0,
                "delta": _delta(choice["delta"]),
                "logprobs": None,
                "finish_reason": (finish if finish in FINISH_REASONS or finish is None else "stop"),
            }
        )
    chunk: dict[str, Any] = {
        "id": answer_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if isinstance(upstream.get("usage"), dict):
        chunk["usage"] = Usage.of(upstream).as_json()
    return chunk


def _first_choice(upstream: dict[str, Any], part: str) -> dict[str, Any]:
    choices = upstream.get("choices")
    if not isinstance(choices, list) or not choices:
        raise UnusableAnswer("choices is not a list of choices")
    choice = choices[0]
    if not isinstance(choice, dict) or not isinstance(choice.get(part), dict):
        raise UnusableAnswer(f"choices[0].{part} is not an object")
    return choice


def _message(given: dict[str, Any]) -> dict[str, Any]:
    """``content`` and ``refusal`` as OpenAI has them; a refusal is also the content when
    there is none, so that a robot that reads only ``content`` says it (rather than taking
    the answer for a function call it cannot find)."""
    content = _text(given, "content")
    refusal = _text(given, "refusal")
    message: dict[str, Any] = {
        "role": "assistant",
        "content": refusal if content is None else content,
        "refusal": refusal,
    }
    if given.get("function_call") is not None:
        message["function_call"] = _texts(given["function_call"], ("name", "arguments"))
    if given.get("tool_calls"):
        message["tool_calls"] = _tool_calls(given["tool_calls"])
    return message


def _delta(given: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if given.get("role") is not None:
        delta["role"] = "assistant"
    for name in ("content", "refusal"):
        if given.get(name) is not None:
            delta[name] = _text(given, name)
    if given.get("function_call") is not None:
        delta["function_call"] = _texts(given["function_call"], ("name", "arguments"), some=True)
    if given.get("tool_calls"):
        delta["tool_calls"] = _tool_call_pieces(given["tool_calls"])
    return delta


def _tool_calls(given: Any) -> list[dict[str, Any]]:
    if not isinstance(given, list):
        raise UnusableAnswer("tool_calls is not a list")
    calls = []
    for call in given:
        kind = call.get("type") if isinstance(call, dict) else None
        if kind not in TOOL_FIELDS or not isinstance(call.get("id"), str):
            raise UnusableAnswer("a tool call is not a function or custom tool call")
        calls.append(
            {"id": clean(call["id"]), "type": kind, kind: _texts(call.get(kind), TOOL_FIELDS[kind])}
        )
    return calls


def _tool_call_pieces(given: Any) -> list[dict[str, Any]]:
    """Streamed tool calls come in pieces: an index, and any part of the call."""
    if not isinstance(given, list):
        raise UnusableAnswer("tool_calls is not a list")
    pieces = []
    for call in given:
        if not isinstance(call, dict) or not _is_count(call.get("index")):
            raise UnusableAnswer("a tool call piece has no index")
        piece: dict[str, Any] = {"index": call["index"]}
        if isinstance(call.get("id"), str):
            piece["id"] = clean(call["id"])
        if call.get("type") == "function":
            piece["type"] = "function"
        if call.get("function") is not None:
            piece["function"] = _texts(call["function"], ("name", "arguments"), some=True)
        pieces.append(piece)
    return pieces


def _texts(given: Any, names: tuple[str, ...], *, some: bool = False) -> dict[str, str]:
    """The text fields ``names`` of an object: all of them, or (``some``) those present."""
    if not isinstance(given, dict):
        raise UnusableAnswer(f"{'/'.join(names)} is not an object")
    if some:
        names = tuple(name for name in names if given.get(name) is not None)
    texts = {name: _text(given, name) for name in names}
    if None in texts.values():
        raise UnusableAnswer(f"{'/'.join(names)} are not texts")
    return texts  # type: ignore[return-value]


def _text(given: dict[str, Any], name: str) -> str | None:
    value = given.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnusableAnswer(f"{name} is not a text")
    return clean(value)


def clean(text: str) -> str:
    """``text`` without NUL (firmware reads C strings: a NUL ends what the robot says) and
    with a lone half of a UTF-16 surrogate pair (valid JSON, not valid UTF-8) as U+FFFD."""
    return LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def _answer_id(given: Any) -> str:
    return clean(given[:MAX_ID_CHARS]) if isinstance(given, str) and given else new_answer_id()


def _created(given: Any) -> int:
    return given if _is_count(given) else int(time.time())


def fit_body(answer: dict[str, Any], max_bytes: int) -> bytes:
    """``answer`` (from :func:`compact_answer`) as JSON of at most ``max_bytes`` bytes: the
    text is cut if it must be, keeping as many characters as fit, and when even no text is too
    much, function and tool calls are left out, last first (never cut: half a call's arguments
    would be run). ``finish_reason`` becomes ``length``, as when the token limit cuts."""
    body = dump(answer)
    if len(body) <= max_bytes:
        return body
    answer["choices"][0]["finish_reason"] = "length"
    message = answer["choices"][0]["message"]
    # A character is at least a byte: more than max_bytes of them never fit (and a hostile
    # upstream's megabyte is not serialised again and again).
    texts = {
        name: message[name][:max_bytes]
        for name in ("content", "refusal")
        if isinstance(message[name], str)
    }

    def cut_to(characters: int) -> bytes:
        for name, text in texts.items():
            message[name] = text[:characters]
        return dump(answer)

    _leave_out_calls(message, lambda: len(cut_to(0)) <= max_bytes)
    if message["content"] is None and not _has_calls(message):
        texts["content"] = ""  # neither text nor call: an empty text, not a call to nothing
    longest = max(map(len, texts.values()), default=0)
    return cut_to(_most_that_fit(longest, lambda n: len(cut_to(n)) <= max_bytes))


def _leave_out_calls(message: dict[str, Any], fits: Callable[[], bool]) -> None:
    calls = message.get("tool_calls")
    if calls and not fits():
        every = calls[:]

        def keeping(count: int) -> bool:
            message["tool_calls"] = every[:count]
            return fits()

        kept = _most_that_fit(len(every), keeping)
        message["tool_calls"] = every[:kept]
        if not kept:
            del message["tool_calls"]
    if "function_call" in message and not fits():
        del message["function_call"]


def _has_calls(message: dict[str, Any]) -> bool:
    return bool(message.get("tool_calls")) or "function_call" in message


def _most_that_fit(most: int, fits: Callable[[int], bool]) -> int:
    """The largest n in 0..most with ``fits(n)`` (fits is monotonic; 0 is taken to fit)."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


class TextBudget:
    """The bytes of text (content, refusal, call names and arguments) left to a streamed
    answer: its chunks are cut to fit, as :func:`fit_body` cuts a whole answer."""

    def __init__(self, max_bytes: int):
        self.left = max_bytes
        self.spent = False  # some text was cut: the answer ends here

    def take(self, chunk: dict[str, Any]) -> None:
        """Cut ``chunk`` (from :func:`compact_chunk`) to what is left, in place; the chunk that
        spends the budget ends the answer (``finish_reason: "length"``)."""
        for choice in chunk["choices"]:
            delta = choice["delta"]
            for name in ("content", "refusal"):
                if name in delta:
                    delta[name] = self._cut(delta[name])
            calls = [delta.get("function_call")]
            calls += [piece.get("function") for piece in delta.get("tool_calls", ())]
            for call in filter(None, calls):
                for name, text in list(call.items()):
                    if self._cut(text) != text:  # never half a name or half the arguments
                        del call[name]
            if self.spent:
                choice["finish_reason"] = "length"

    def _cut(self, text: str) -> str:
        encoded = text.encode("utf-8")
        if len(encoded) <= self.left:
            self.left -= len(encoded)
            return text
        kept = encoded[: self.left].decode("utf-8", "ignore")  # whole characters only
        self.left, self.spent = 0, True
        return kept


def new_answer_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"
