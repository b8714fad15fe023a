"""Connections to the device API: bounded, and answered in JSON even when unparsable.

The robots share their Wi-Fi with anyone, and aiohttp's server on its own lets a client hold a
connection for an hour without sending a request and accepts any number of them. Here:

* a new connection that has not sent a complete request head within ``header_timeout`` seconds
  is closed (aiohttp's ``keepalive_timeout`` covers the wait for each later request);
* at most ``max_connections`` are open: one more closes the connection that has waited longest
  for a request (else the oldest), never the newcomer, so junk connections cannot lock a robot
  out; they only push each other out;
* a request aiohttp cannot parse (bad request line, ``/%0A`` in odd places, huge headers) gets
  the same JSON error as the rest of the API, logged in one short line at DEBUG, not a traceback
  at ERROR.

All of this costs nothing per request: it runs when a connection opens or closes, or when a
request is unparsable. It relies on three attributes of aiohttp's ``RequestHandler``
(``_request_count``, ``_request_in_progress``, ``_messages``); tests/device_api/
test_connections.py fails if an aiohttp upgrade changes them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from config.settings import DeviceApiSettings
from device_api.errors import INTERNAL_ERROR, shorten
from device_api.responses import json_error

log = logging.getLogger(__name__)

# Evictions are logged at most this often, with a count: a flood must not flood the log too.
EVICTION_REPORT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int
    header_timeout: float
    keepalive_timeout: float

    @classmethod
    def from_settings(cls, settings: DeviceApiSettings) -> ConnectionLimits:
        return cls(
            max_connections=settings.device_api_max_connections,
            header_timeout=settings.device_api_header_timeout_seconds,
            keepalive_timeout=settings.device_api_keepalive_seconds,
        )


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler with a deadline for the first request and JSON errors."""

    __slots__ = ("_header_deadline", "_header_timeout")

    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any):
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_deadline: asyncio.TimerHandle | None = None

    @property
    def between_requests(self) -> bool:
        """Waiting for (the rest of) a request head: nothing would be lost by closing."""
        return not self._request_in_progress and not self._messages

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._header_deadline = self._loop.call_later(self._header_timeout, self._head_overdue)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        super().connection_lost(exc)

    def _head_overdue(self) -> None:
        self._header_deadline = None
        if self._request_count == 0:  # no complete request head (nor a bad one) arrived
            log.debug("closing a connection that sent no request in %.1f s", self._header_timeout)
            self.force_close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What aiohttp sends when a request cannot be parsed or a handler raised."""
        if isinstance(exc, HttpProcessingError):
            # aiohttp's message quotes the raw bytes over several lines; keep the first one.
            lines = (message or exc.message or "").strip().splitlines()
            reason = shorten(lines[0].rstrip(":")) if lines else ""
            log.debug("unparsable request from %s: %s", request.remote, ascii(reason))
            text = f"malformed HTTP request: {reason}" if reason else "malformed HTTP request"
        elif status == HTTPStatus.INTERNAL_SERVER_ERROR:
            # Views answer their own errors, so this is a bug: the traceback is worth a line.
            log.error("unexpected error answering %s", request.remote, exc_info=exc)
            text = INTERNAL_ERROR
        else:
            text = HTTPStatus(status).phrase.lower()
        if request.writer.output_size > 0:
            # Part of an answer went out already; the connection is beyond repair (as aiohttp).
            raise ConnectionError("the response was already started; cannot send an error")
        response = json_error(status, text)
        response.force_close()
        return response


class GuardedServer(web.Server):
    """aiohttp's connection factory, making :class:`GuardedRequestHandler` within a cap."""

    def __init__(self, handler: Any, *, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self._limits = limits
        # Open connections in the order they opened (aiohttp's own list keeps closed ones
        # until their task ends, so it cannot be used for counting).
        self._open: dict[GuardedRequestHandler, None] = {}
        self._evicted = 0
        self._next_report = 0.0

    def __call__(self) -> GuardedRequestHandler:
        return GuardedRequestHandler(
            self, loop=self._loop, header_timeout=self._limits.header_timeout, **self._kwargs
        )

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        assert isinstance(handler, GuardedRequestHandler)
        self._open[handler] = None
        if len(self._open) > self._limits.max_connections:
            self._evict_for(handler)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._open.pop(handler, None)  # type: ignore[call-overload]
        super().connection_lost(handler, exc)

    def _evict_for(self, newcomer: GuardedRequestHandler) -> None:
        others = [handler for handler in self._open if handler is not newcomer]
        victim = next((h for h in others if h.between_requests), others[0])
        del self._open[victim]
        victim.force_close()
        self._evicted += 1
        now = self._loop.time()
        if now >= self._next_report:
            log.warning(
                "more than DEVICE_API_MAX_CONNECTIONS=%d connections: closed %d idle or oldest"
                " ones to let new ones in",
                self._limits.max_connections,
                self._evicted,
            )
            self._evicted = 0
            self._next_report = now + EVICTION_REPORT_SECONDS


class DeviceApiRunner(web.AppRunner):
    """``web.AppRunner`` serving through :class:`GuardedServer` within ``limits``."""

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(app, keepalive_timeout=limits.keepalive_timeout, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        # The base class runs the app's startup and builds aiohttp's plain server (it has no
        # connections yet); serve the same handler and request factory through ours.
        plain = await super()._make_server()
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            limits=self._limits,
            **self._kwargs,
        )
