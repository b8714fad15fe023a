"""Requests aiohttp cannot even parse, answered in the app's own JSON instead of plain text.

aiohttp answers a bad request line, a non-ASCII byte in a path or a header over 8 KB with a
plain-text 400 and logs a traceback at ERROR, before any handler or middleware runs (so before
any token check): anyone on the network can fill the log that way. :class:`JsonErrorsRequestHandler`
answers them with the JSON its subclass builds (:meth:`~JsonErrorsRequestHandler.error_response`)
and logs one short line at DEBUG; only a real bug (a 500) is logged at ERROR, with its traceback.
:class:`JsonErrorsAppRunner` serves an app through such a handler.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

SHOWN_CHARS = 100  # of aiohttp's description of a bad request, echoed to the client


class JsonErrorsRequestHandler(RequestHandler):
    """aiohttp's connection handler, its own error answers made by :meth:`error_response`."""

    __slots__ = ()

    def error_response(self, status: int, text: str) -> web.Response:
        """The response for ``status``, ``text`` saying what went wrong (one line)."""
        raise NotImplementedError

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What aiohttp sends when a request cannot be parsed or a handler raised."""
        if isinstance(exc, HttpProcessingError):
            reason = parse_failure(exc, message)
            log.debug("unparsable request from %s: %s", request.remote, ascii(reason))
            text = f"malformed HTTP request: {reason}" if reason else "malformed HTTP request"
        elif status == HTTPStatus.INTERNAL_SERVER_ERROR:
            # The apps answer their own errors, so this is a bug: the traceback is worth it.
            log.error("unexpected error answering %s", request.remote, exc_info=exc)
            text = "internal server error; the server log has the details"
        else:
            text = HTTPStatus(status).phrase.lower()
        if request.writer.output_size > 0:
            # Part of an answer went out already; the connection is beyond repair (as aiohttp).
            raise ConnectionError("the response was already started; cannot send an error")
        response = self.error_response(status, text)
        response.force_close()
        return response


def parse_failure(exc: HttpProcessingError, message: str | None = None) -> str:
    """aiohttp's description of a bad request, cut to its first line (it goes on to quote the
    raw bytes over several lines) and to :data:`SHOWN_CHARS` characters."""
    lines = (message or exc.message or "").strip().splitlines()
    reason = lines[0].rstrip(":") if lines else ""
    return reason if len(reason) <= SHOWN_CHARS else reason[:SHOWN_CHARS] + "..."


class JsonErrorsServer(web.Server):
    """aiohttp's connection factory, making ``handler_class`` connection handlers."""

    def __init__(self, handler: Any, *, handler_class: type[RequestHandler], **kwargs: Any):
        super().__init__(handler, **kwargs)
        self._handler_class = handler_class

    def __call__(self) -> RequestHandler:
        return self._handler_class(self, loop=self._loop, **self._kwargs)


class JsonErrorsAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections are handled by ``handler_class``."""

    def __init__(
        self,
        app: web.Application,
        *,
        handler_class: type[JsonErrorsRequestHandler],
        **kwargs: Any,
    ):
        super().__init__(app, **kwargs)
        self._handler_class = handler_class

    async def _make_server(self) -> web.Server:
        # The base class runs the app's startup and builds aiohttp's plain server (it has no
        # connections yet); serve the same handler and request factory through ours.
        plain = await super()._make_server()
        return self._server_for(plain)

    def _server_for(self, plain: web.Server) -> web.Server:
        return JsonErrorsServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_class=self._handler_class,
            **self._kwargs,
        )
