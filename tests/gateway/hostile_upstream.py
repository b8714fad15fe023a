"""An OpenAI-compatible chat server that answers whatever a test tells it to: good answers,
broken ones and hostile ones, streamed or not. It is a real aiohttp server on 127.0.0.1 (kobo
reaches it as OPENAI_BASE_URL or LOCAL_ENGINE_URL) and writes its bytes as given, so that an
answer can be anything a broken or hostile server could send: NaN, a lone surrogate (write
``\\ud83d`` into the bytes), JSON nested 100,000 deep, megabytes, a 429 with any Retry-After,
a stream that breaks off.

``answer`` is what a plain request gets (bytes, a status and headers); ``events`` is what a
streamed one gets (each item the bytes after ``data: ``, or raw bytes to write as they are);
:meth:`answer_json` and :meth:`stream_json` build them from objects. The catalogue below has
the garbage the tests send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DONE = b"[DONE]"


@dataclass
class Plain:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # no Content-Length: the size shows only as the bytes come


@dataclass
class Raw:
    """Bytes written into the stream as they are (not as a ``data:`` event)."""

    data: bytes


class HostileUpstream:
    def __init__(self) -> None:
        self.answer = Plain(json.dumps(completion(message("はい"))).encode())
        self.events: list[bytes | Raw] = [dumps(chunk({"content": "はい"})), DONE]
        self.hang_up_after_events = False  # abort the connection instead of ending the stream
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answer_json(self, payload: Any, status: int = 200, **headers: str) -> None:
        self.answer = Plain(dumps(payload), status, headers)

    def stream_json(self, *chunks: Any) -> None:
        """Stream ``chunks`` (objects, or bytes sent as they are), then ``[DONE]``."""
        self.events = [c if isinstance(c, bytes | Raw) else dumps(c) for c in chunks] + [DONE]

    async def __aenter__(self) -> HostileUpstream:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if not body.get("stream"):
            return await self._plain(request, self.answer)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for event in self.events:
                data = event.data if isinstance(event, Raw) else b"data: " + event + b"\n\n"
                await response.write(data)
            if self.hang_up_after_events:
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write_eof()
        except ConnectionError:  # kobo hung up first, as it may on garbage
            pass
        return response

    @staticmethod
    async def _plain(request: web.Request, answer: Plain) -> web.StreamResponse:
        headers = {"Content-Type": "application/json", **answer.headers}
        if not answer.chunked:
            return web.Response(body=answer.body, status=answer.status, headers=headers)
        response = web.StreamResponse(status=answer.status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(answer.body), 64 * 1024):
                await response.write(answer.body[start : start + 64 * 1024])
            await response.write_eof()
        except ConnectionError:  # kobo stopped reading, as it should
            pass
        return response


def dumps(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


# --- good answers ----------------------------------------------------------------------------


def message(content: str | None, **fields: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "refusal": None, **fields}


def completion(given: dict[str, Any], finish: str = "stop", **fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "upstream-name",
        "choices": [{"index": 0, "message": given, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        **fields,
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "upstream-name",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def usage_chunk(completion_tokens: int = 3) -> dict[str, Any]:
    usage = {"prompt_tokens": 9, "completion_tokens": completion_tokens}
    return {**chunk({}), "choices": [], "usage": {**usage, "total_tokens": 9 + completion_tokens}}


def tool_call(arguments: str, index: int = 0) -> dict[str, Any]:
    return {
        "id": f"call_{index}",
        "type": "function",
        "function": {"name": "timer", "arguments": arguments},
    }


# --- garbage: (name, non-streamed answer body, one streamed event) ---------------------------

DEEP = 100_000
LONG_LINE = 130 * 1024  # over aiohttp's 128 KiB line limit


def garbage() -> list[tuple[str, bytes, bytes]]:
    """Each kind of unusable answer once: a whole answer, and the same as a streamed event."""
    good = completion(message("x"))
    piece = chunk({"content": "x"})
    return [
        (
            "choices is a dict",
            dumps({**good, "choices": {"0": good["choices"][0]}}),
            dumps({**piece, "choices": {"0": piece["choices"][0]}}),
        ),
        ("choices is an int", dumps({**good, "choices": 3}), dumps({**piece, "choices": 3})),
        ("an answer is a list", b"[1, 2]", b"[1, 2]"),
        (
            "nested 100,000 deep",
            dumps(good)[:-1] + b', "extra": ' + b"[" * DEEP + b"]" * DEEP + b"}",
            dumps(piece)[:-1] + b', "extra": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        ),
        (
            "NaN fields",
            dumps(good).replace(b'"index": 0', b'"index": NaN').replace(b"1700000000", b"NaN"),
            dumps(piece).replace(b'"index": 0', b'"index": NaN'),
        ),
        (
            "a number past floating point",  # parses as inf: no NaN or Infinity to refuse
            dumps(good).replace(b'"index": 0', b'"index": 1e999'),
            dumps(piece).replace(b'"index": 0', b'"index": 1e999'),
        ),
        (
            "content is a number",
            dumps(completion(message(3))),  # type: ignore[arg-type]
            dumps(chunk({"content": 3})),
        ),
        (
            "a function call is a text",
            dumps(completion(message(None, function_call="timer"))),
            dumps(chunk({"function_call": "timer"})),
        ),
        ("not JSON", b"<html>Bad Gateway</html>", b"<html>"),
        (
            "a line over 128 KB",
            dumps(completion(message("x" * LONG_LINE))),  # fine as a whole answer: see below
            dumps(chunk({"content": "x" * LONG_LINE})),
        ),
    ]


def broken_answers() -> list[tuple[str, bytes]]:
    """Every garbage answer kobo must refuse when it is not streamed."""
    return [(name, body) for name, body, _ in garbage() if name != "a line over 128 KB"]


def broken_events() -> list[tuple[str, bytes]]:
    return [(name, event) for name, _, event in garbage()]
