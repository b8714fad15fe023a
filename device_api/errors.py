"""JSON for every error: unknown paths, wrong methods, and unexpected exceptions.

These are route handlers and a handler decorator rather than an aiohttp middleware on purpose:
any middleware makes aiohttp wrap *every* request in two extra coroutine layers (the middleware
and its own ``_fix_request_current_app``), and ``/get_text`` must stay close to a bare handler's
speed. ``/get_text`` guards itself (see views); the other views are wrapped in
:func:`json_errors`, and routes.py sends unknown paths and methods to the handlers below.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from device_api.responses import json_error

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
    return json_error(404, f"no such endpoint: {request.path}")


def method_not_allowed(allowed: tuple[str, ...]) -> Handler:
    allow = ", ".join(allowed)

    async def wrong_method(request: web.Request) -> web.Response:
        return json_error(
            405,
            f"method {request.method} is not allowed on {request.path}; use {allow}",
            headers={"Allow": allow},
        )

    return wrong_method
