"""A robot running AI_StackChan_Ex, as far as kobo can tell (docs/ai-stackchan-ex-chat.md).

It sends exactly the firmware's request: ``POST`` with a Bearer key, three leading system
messages (the character, the firmware's own instructions, ``User Info:`` memory), then the
conversation, the legacy ``functions`` list with ``"function_call": "auto"``, no ``stream``;
sometimes a user message with an image part. It reads the answer as the firmware does: any
non-2xx status makes it say わかりません; a 2xx body must fit in ``DynamicJsonDocument doc(2000)``
(see :func:`arduinojson_bytes`) or it says エラーです; then ``choices[0].message.content`` with
newlines turned into spaces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

JSON_MEMORY = 2000
DONT_KNOW = "わかりません"
ERROR = "エラーです"
# ArduinoJson 6 on the ESP32 (32-bit): one slot per object member or array element.
SLOT_BYTES = 16

CHARACTER = "あなたはスタックチャンです。小学生にやさしく、短く答えてください。"
FIRMWARE_SYSTEM = (
    "You are a robot. If the user asks you to do something you can do with a function, "
    "call the function. Keep answers short."
)
FUNCTIONS = [
    {
        "name": "timer",
        "description": "Set a timer.",
        "parameters": {
            "type": "object",
            "properties": {"time": {"type": "integer", "description": "seconds"}},
            "required": ["time"],
        },
    }
]
TINY_JPEG = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHR8eHR"


def arduinojson_bytes(value: Any) -> int:
    """What ``deserializeJson(doc, const char*)`` needs in ArduinoJson 6: a slot per member or
    element, plus a copy of every key and string with its terminating NUL (no deduplication:
    the estimate errs on the safe side)."""
    if isinstance(value, dict):
        return sum(
            SLOT_BYTES + len(key.encode()) + 1 + arduinojson_bytes(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(SLOT_BYTES + arduinojson_bytes(item) for item in value)
    if isinstance(value, str):
        return len(value.encode()) + 1
    return 0


@dataclass
class Reply:
    status: int
    body: bytes
    spoken: str


def request_body(
    history: list[dict[str, Any]], *, model: str = "gpt-4o", image: bool = False
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": CHARACTER},
        {"role": "system", "content": FIRMWARE_SYSTEM},
        {"role": "system", "content": "User Info: "},
        *(dict(message) for message in history),
    ]
    if image:
        last = messages[-1]
        last["content"] = [
            {"type": "text", "text": last["content"]},
            {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{TINY_JPEG}"}},
        ]
    return {"model": model, "messages": messages, "functions": FUNCTIONS, "function_call": "auto"}


async def say(
    http: aiohttp.ClientSession,
    endpoint: str,
    key: str,
    history: list[dict[str, Any]],
    *,
    image: bool = False,
) -> Reply:
    """One chat turn as the firmware makes it; ``spoken`` is what the robot says."""
    body = json.dumps(request_body(history, image=image), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    async with http.post(endpoint, data=body, headers=headers) as response:
        raw = await response.read()
        if not 200 <= response.status < 300:
            return Reply(response.status, raw, DONT_KNOW)
    try:
        answer = json.loads(raw)
    except ValueError:
        return Reply(response.status, raw, ERROR)
    if arduinojson_bytes(answer) > JSON_MEMORY:
        return Reply(response.status, raw, ERROR)
    content = answer["choices"][0]["message"]["content"]
    return Reply(response.status, raw, (content or "").replace("\n", " "))
