"""Connections to the device API: bounded, and answered in JSON even when unparsable.

The robots share their Wi-Fi with anyone, and aiohttp's server on its own lets a client hold a
connection for an hour without sending a request and accepts any number of them. Here:

* a new connection that has not sent a complete request head within ``header_timeout`` seconds
  is closed (aiohttp's ``keepalive_timeout`` covers the wait for each later request);
* at most ``max_connections`` are open: one more closes the connection that has waited longest
  for a request (else the oldest), never the newcomer, so junk connections cannot lock a robot
  out; they only push each other out. ``max_connections`` is lowered to fit the process's
  descriptor limit (:func:`connection_budget`): out of descriptors, nobody gets in at all;
* a request aiohttp cannot parse (bad request line, ``/%0A`` in odd places, huge headers) gets
  the same JSON error as the rest of the API (OpenAI's shape when the connection's first
  request is for ``/v1/``), logged in one short line at DEBUG, not a traceback at ERROR
  (http_common/protocol.py).

All of this costs nothing per request: it runs when a connection opens or closes, or when a
request is unparsable. It relies on three attributes of aiohttp's ``RequestHandler``
(``_request_count``, ``_request_in_progress``, ``_messages``); tests/device_api/
test_connections.py fails if an aiohttp upgrade changes them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from config.settings import DeviceApiSettings
from device_api.responses import json_error, openai_error
from http_common.protocol import JsonErrorsRequestHandler

log = logging.getLogger(__name__)

# Evictions are logged at most this often, with a count: a flood must not flood the log too.
EVICTION_REPORT_SECONDS = 60.0
FIRST_BYTES = 16  # of a connection, kept to tell a gateway request from the others
OPENAI_REQUEST = re.compile(rb"[A-Z]+ /v1/")
DEFAULT_BACKLOG = 128  # aiohttp's: connections the kernel queues until accepted
RESERVED_DESCRIPTORS = 32  # at least, for what the process has open besides connections
IN_FLIGHT_BACKLOGS = 4  # backlogs' worth of connections accepted or closed but not counted


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """``max_connections`` is what the settings ask for, lowered to what the process's
    descriptor limit allows (``configured_connections`` and ``descriptor_limit`` say why)."""

    max_connections: int
    header_timeout: float
    keepalive_timeout: float
    backlog: int = DEFAULT_BACKLOG
    configured_connections: int | None = None
    descriptor_limit: int | None = None

    @classmethod
    def from_settings(cls, settings: DeviceApiSettings) -> ConnectionLimits:
        """The limits for ``settings`` within the process's own descriptor limit."""
        descriptors = descriptor_limit()
        configured = settings.device_api_max_connections
        cap, backlog = connection_budget(configured, descriptors)
        return cls(
            max_connections=cap,
            header_timeout=settings.device_api_header_timeout_seconds,
            keepalive_timeout=settings.device_api_keepalive_seconds,
            backlog=backlog,
            configured_connections=configured,
            descriptor_limit=descriptors,
        )

    @property
    def lowered(self) -> bool:
        """The descriptor limit, not the setting, decides the cap."""
        return self.configured_connections is not None and (
            self.max_connections < self.configured_connections
        )


def descriptor_limit() -> int | None:
    """How many files this process may open (its soft ``RLIMIT_NOFILE``), None if unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def connection_budget(configured: int, descriptors: int | None) -> tuple[int, int]:
    """(connections at once, listen backlog) that fit in ``descriptors`` open files.

    Once the process is out of descriptors ``accept()`` fails, so the cap below can no longer
    push idle connections out: a robot waits, and asyncio logs every failed accept. So there
    must always be room for what the process has open besides (the database, logs, upstream
    connections: :data:`RESERVED_DESCRIPTORS` or an eighth of the limit) and for what the
    connections accepted but not yet counted, or pushed out but not yet closed: the event loop
    accepts up to a backlog's worth at each turn, counts them two turns later, and closes those
    pushed out one turn after that (:data:`IN_FLIGHT_BACKLOGS`).
    """
    if descriptors is None:
        return configured, DEFAULT_BACKLOG
    usable = max(descriptors - max(RESERVED_DESCRIPTORS, descriptors // 8), 5)
    backlog = max(1, min(DEFAULT_BACKLOG, usable // (2 * IN_FLIGHT_BACKLOGS)))
    return max(1, min(configured, usable - IN_FLIGHT_BACKLOGS * backlog)), backlog


class GuardedRequestHandler(JsonErrorsRequestHandler):
    """aiohttp's connection handler with a deadline for the first request and JSON errors."""

    __slots__ = ("_first_bytes", "_header_deadline", "_header_timeout")

    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any):
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_deadline: asyncio.TimerHandle | None = None
        self._first_bytes = b""

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

    def data_received(self, data: bytes) -> None:
        if not self._first_bytes:
            # The start of the first request line: whose error shape an unparsable request
            # gets (below). Later requests on the connection get the API's plain shape.
            self._first_bytes = data[:FIRST_BYTES]
        super().data_received(data)

    def _head_overdue(self) -> None:
        self._header_deadline = None
        if self._request_count == 0:  # no complete request head (nor a bad one) arrived
            log.debug("closing a connection that sent no request in %.1f s", self._header_timeout)
            self.force_close()

    def error_response(self, status: int, text: str) -> web.Response:
        """OpenAI's error shape for the robots' gateway (/v1/...), the API's own elsewhere."""
        if OPENAI_REQUEST.match(self._first_bytes) and self._request_count <= 1:
            return openai_error(status, text)
        return json_error(status, text)


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
                "more than %d connections at once (see the start of this log): closed %d idle"
                " or oldest ones to let new ones in",
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
