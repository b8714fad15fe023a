"""What the gateway sends upstream, and the compact answer it sends back to a robot.

The robot's request is hostile input: it is checked field by field (errors name the field) and
rebuilt, never forwarded blindly. Server-side limits apply whatever the robot asks: at most
``max_answer_tokens`` tokens, one choice, and an answer body of at most ``max_reply_bytes``
bytes, so that the firmware's ~2,000 bytes of JSON memory always hold it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from gateway.errors import BadChatRequest
from i18n import msg

ROLES = ("system", "developer", "user", "assistant", "function", "tool")
# Sampling fields a local engine understands as OpenAI does; anything else is left out.
LOCAL_SAMPLING = ("top_p", "stop", "seed", "presence_penalty", "frequency_penalty")
MAX_ID_CHARS = 64


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
    body = {key: value for key, value in request.items() if key not in ("max_tokens", "n")}
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
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def dump(payload: Any) -> bytes:
    # ensure_ascii=False: Japanese is 3 bytes in UTF-8 but 6 as \\uXXXX, and bytes are what the
    # robot's buffer counts.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compact_answer(upstream: dict[str, Any], model: str) -> dict[str, Any]:
    """The upstream's answer with only what a client reads, named after kobo's ``model``."""
    choice = upstream["choices"][0] if isinstance(upstream["choices"][0], dict) else {}
    given = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    content = given.get("content")
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content if isinstance(content, str) or content is None else str(content),
    }
    for name in ("function_call", "tool_calls"):
        if given.get(name):
            message[name] = given[name]
    answer_id = upstream.get("id")
    created = upstream.get("created")
    return {
        "id": answer_id[:MAX_ID_CHARS] if isinstance(answer_id, str) else new_answer_id(),
        "object": "chat.completion",
        "created": created if isinstance(created, int) else int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": choice.get("finish_reason")}],
        "usage": Usage.of(upstream).as_json(),
    }


def fit_body(answer: dict[str, Any], max_bytes: int) -> bytes:
    """``answer`` as JSON of at most ``max_bytes`` bytes: the text is cut if it must be, keeping
    as many characters as fit (``finish_reason`` becomes ``length``, as when the token limit
    cuts it)."""
    body = dump(answer)
    message = answer["choices"][0]["message"]
    content = message.get("content")
    if len(body) <= max_bytes or not isinstance(content, str) or not content:
        return body
    answer["choices"][0]["finish_reason"] = "length"

    def cut_to(characters: int) -> bytes:
        message["content"] = content[:characters]
        return dump(answer)

    # The most characters that fit: JSON escapes make bytes per character vary, so search.
    low, high = 0, len(content)
    while low < high:
        middle = (low + high + 1) // 2
        if len(cut_to(middle)) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return cut_to(low)


def new_answer_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"
