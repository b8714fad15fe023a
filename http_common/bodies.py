"""Request bodies read whole, within a limit, and parsed as JSON that is safe to hand on.

``request.content.read(n)`` returns what has *arrived*, not the body: a robot on Wi-Fi sends a
5 KB request in 1,436-byte TCP segments, so a server that reads once sees a third of it.
:func:`read_body` reads until the body ends (``Content-Length`` or the last chunk of a chunked
one), refusing at once what declares, or grows, past the limit. :func:`read_json` then parses it
and refuses what would hurt whoever handles it next: nesting deeper than ``max_depth`` (the
parser itself recurses, and so would every later walk over the data) and numbers that are not
finite (``NaN``, ``Infinity``, ``1e999``: not JSON, and upstreams choke on them).

Each refusal is a :class:`BodyError` naming what was wrong; each app words it in its own
messages. A client that hangs up before its body is complete raises ``ConnectionResetError``,
as aiohttp does: it is not a bug, and each app says so quietly.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

MAX_JSON_DEPTH = 64  # arrays and objects inside each other; requests use fewer than ten
IN_THREAD_BYTES = 64 * 1024  # bodies at least this long are parsed off the event loop


class BodyError(ValueError):
    """The body cannot be used; the subclass says why."""


class BodyTooLarge(BodyError):
    def __init__(self, limit: int):
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


class BodyNotJson(BodyError):
    """Not JSON at all (or not UTF-8, or a broken chunked encoding); the message says where."""


class BodyTooDeep(BodyError):
    def __init__(self, max_depth: int):
        super().__init__(f"the body is nested more than {max_depth} levels deep")
        self.max_depth = max_depth


class NonFiniteNumber(BodyError):
    def __init__(self, field: str):
        super().__init__(f"{field} is not a finite number")
        self.field = field


async def read_body(request: web.BaseRequest, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes, else :class:`BodyTooLarge` as soon as that is
    known (a declared ``Content-Length``, or the byte past the limit)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    try:
        while chunk := await request.content.read(limit + 1 - len(body)):
            body += chunk
            if len(body) > limit:
                raise BodyTooLarge(limit)
    except HttpProcessingError as exc:  # e.g. a chunk size that is not hexadecimal
        raise BodyNotJson(f"the body is not valid HTTP: {exc.message}") from None
    return bytes(body)


async def read_json(
    request: web.BaseRequest, limit: int, *, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """The body, read whole (:func:`read_body`) and parsed (:func:`parse_json`)."""
    raw = await read_body(request, limit)
    if len(raw) >= IN_THREAD_BYTES:
        return await asyncio.to_thread(parse_json, raw, max_depth)
    return parse_json(raw, max_depth)


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``raw`` as JSON, nested at most ``max_depth`` deep, every number finite."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BodyTooDeep(max_depth) from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise BodyNotJson(str(exc)) from None
    _check(value, max_depth)
    return value


def _check(value: Any, max_depth: int) -> None:
    """Walk ``value`` without recursing: depth first, containers and floats only."""
    pending: list[tuple[Any, str, int]] = [(value, "", 1)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                raise NonFiniteNumber(where or "the body")
            continue
        if not isinstance(item, dict | list):
            continue  # the body itself may be a string, a number...
        if depth > max_depth:
            raise BodyTooDeep(max_depth)
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in children:
            if isinstance(child, dict | list | float):
                pending.append((child, _field(where, key), depth + 1))


def _field(where: str, key: str | int) -> str:
    """``messages[0].content``: a field named as OpenAI's ``param`` names it."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key
