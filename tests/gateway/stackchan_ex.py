"""A robot running AI_StackChan_Ex, as far as kobo can tell (docs/ai-stackchan-ex-chat.md).

It sends exactly the firmware's request: ``POST`` with a Bearer key, three leading system
messages (the character, the firmware's own instructions, ``User Info:`` memory), then the
conversation; sometimes a user message with an image part. Two builds are in the field
(:data:`ARDUINOJSON6`, :data:`CURRENT`): robots flashed earlier send the legacy ``functions``
list with ``"function_call": "auto"`` and no ``stream``, and parse the answer into
``DynamicJsonDocument doc(2000)`` of ArduinoJson 6 (see :func:`arduinojson_bytes`); current
firmware (2026-06) sends ``"stream": false`` and no functions to a custom endpoint, and builds
with ArduinoJson 7, whose documents grow on the heap.

It reads the answer as the firmware does: any non-2xx status (or an empty body) makes it say
わかりません; a 2xx body that does not parse (for ArduinoJson 6: does not fit) makes it say
エラーです; then ``choices[0].message.content`` as a C string (a NUL ends it) with newlines
turned into spaces; a null ``content`` is a function call (``message.function_call``).
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


@dataclass(frozen=True)
class Firmware:
    name: str
    sends_functions: bool  # the legacy functions list and "function_call": "auto"
    sends_stream_false: bool
    json_memory: int | None  # ArduinoJson 6's fixed document; None: ArduinoJson 7's heap


# Robots flashed before the custom endpoint skipped functions; still in the field.
ARDUINOJSON6 = Firmware("ArduinoJson 6 build", True, False, JSON_MEMORY)
# ronron-gh/AI_StackChan_Ex as of 2026-06 (ChatGPT::load_role, platformio.ini ArduinoJson ^7).
CURRENT = Firmware("2026-06", False, True, None)


@dataclass
class Reply:
    status: int
    body: bytes
    spoken: str
    called: str | None = None  # the function it runs when the answer is a function call


def request_body(
    history: list[dict[str, Any]],
    *,
    model: str = "gpt-4o",
    image: bool = False,
    firmware: Firmware = ARDUINOJSON6,
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
    body: dict[str, Any] = {"model": model, "messages": messages}
    if firmware.sends_stream_false:
        body["stream"] = False
    if firmware.sends_functions:
        body.update(functions=FUNCTIONS, function_call="auto")
    return body


async def say(
    http: aiohttp.ClientSession,
    endpoint: str,
    key: str,
    history: list[dict[str, Any]],
    *,
    image: bool = False,
    firmware: Firmware = ARDUINOJSON6,
) -> Reply:
    """One chat turn as the firmware makes it; ``spoken`` is what the robot says."""
    body = request_body(history, image=image, firmware=firmware)
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    async with http.post(endpoint, data=data, headers=headers) as response:
        raw = await response.read()
        if not 200 <= response.status < 300 or not raw:
            return Reply(response.status, raw, DONT_KNOW)
    return hear(response.status, raw, firmware)


def hear(status: int, raw: bytes, firmware: Firmware = ARDUINOJSON6) -> Reply:
    """What the robot makes of a 2xx answer ``raw`` (ChatGPT::execChatGpt)."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return Reply(status, raw, ERROR)
    if firmware.json_memory is not None and arduinojson_bytes(answer) > firmware.json_memory:
        return Reply(status, raw, ERROR)
    message = answer["choices"][0]["message"]
    content = message.get("content")
    if content is None:  # the firmware runs the function (a missing one runs nothing)
        call = message.get("function_call") or {}
        return Reply(status, raw, "", called=call.get("name"))
    return Reply(status, raw, content.split("\0")[0].replace("\n", " "))
