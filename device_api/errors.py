"""JSON for every error: unknown paths, wrong methods, ``Expect``, and unexpected exceptions.

These are route handlers and a handler decorator rather than an aiohttp middleware on purpose:
any middleware makes aiohttp wrap *every* request in two extra coroutine layers (the middleware
and its own ``_fix_request_current_app``), and ``/get_text`` must stay close to a bare handler's
speed. ``/get_text`` guards itself (see views); the other views are wrapped in
:func:`json_errors`, and routes.py sends unknown paths and methods to the handlers below.
Requests aiohttp cannot even parse are answered by protocol.py, with the same JSON.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from aiohttp import HttpVersion11, hdrs, web
from aiohttp.typedefs import Handler

from device_api.responses import json_error, openai_error
from i18n import msg

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal server error; the server log has the details"


def json_errors(handler: Handler) -> Handler:
    """Answer HTTP errors raised by ``handler`` as JSON, and anything unexpected as a 500."""

    @functools.wraps(handler)
    async def answer_errors_as_json(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return json_error(exc.status, exc.reason.lower() if exc.reason else "request failed")
        except asyncio.CancelledError:
            raise
        except Exception:
            return internal_error(request)

    return answer_errors_as_json


def internal_error(request: web.Request) -> web.Response:
    """Log the exception being handled; the client learns nothing about our internals."""
    log.exception("unexpected error answering %s %s", request.method, request.path)
    return json_error(500, INTERNAL_ERROR)


async def not_found(request: web.Request) -> web.Response:
    return json_error(404, f"no such endpoint: {shorten(request.path)}")


async def expect_handler(request: web.Request) -> web.Response | None:
    """Every route's ``Expect`` handler (aiohttp's default answers a bad one in plain text).

    ``100-continue`` gets its interim answer where a body is read (the gateway's ``POST``):
    a client such as curl otherwise waits a second before sending it. Elsewhere none is needed
    (RFC 9110 10.1.1).
    """
    if request.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
        if request.method == hdrs.METH_POST and request.version >= HttpVersion11:
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the answer itself has not started
        return None
    return json_error(417, "the Expect header is not supported here; send none")


def shorten(text: str, limit: int = 100) -> str:
    """``text`` cut to ``limit`` characters: clients choose what we echo back."""
    return text if len(text) <= limit else text[:limit] + "..."


def method_not_allowed(allowed: tuple[str, ...]) -> Handler:
    allow = ", ".join(allowed)

    async def wrong_method(request: web.Request) -> web.Response:
        return json_error(
            405,
            f"method {request.method} is not allowed on {shorten(request.path)}; use {allow}",
            headers={"Allow": allow},
        )

    return wrong_method


def openai_method_not_allowed(allowed: tuple[str, ...]) -> Handler:
    """:func:`method_not_allowed` for the robots' gateway: OpenAI's error shape and words."""
    allow = ", ".join(allowed)

    async def wrong_method(request: web.Request) -> web.Response:
        text = msg(
            "gateway.method_not_allowed",
            method=shorten(request.method),
            path=shorten(request.path),
            allowed=allow,
        )
        return openai_error(405, str(text), headers={"Allow": allow})

    return wrong_method
