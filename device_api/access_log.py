"""The device API's access log: one short line per request, whatever the client sent.

aiohttp's default line quotes the whole request line, ``Referer`` and ``User-Agent``, each up to
8 KB of the client's choosing; this one cuts each to 100 characters and escapes anything that is
not printable ASCII, so a hostile client can neither flood the log with long lines nor write
terminal escapes into it. Secrets never reach it: a query parameter whose name says it holds one
(``token``, ``api_key``, ``password``...) and ``DEVICE_API_TOKEN`` under any name are written as
``***`` (the API reads its token from the ``Authorization`` header only, but clients try).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from device_api.errors import shorten
from device_api.keys import SETTINGS

HIDDEN = "***"
_SECRET_PARAMETER = re.compile(
    r"(?i)((?:^|&)[^=&]*(?:token|key|secret|passw|auth|sig)[^=&]*=)[^&]*"
)


class ShortAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %d %.1fms "%s"',
            request.remote,
            _printable(request.method),
            _printable(_target(request)),
            response.status,
            response.body_length,
            time * 1000,
            _printable(request.headers.get("User-Agent", "-")),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def _target(request: web.BaseRequest) -> str:
    """The path and query string, secrets hidden."""
    query = request.query_string
    if not query:
        return request.path
    query = _SECRET_PARAMETER.sub(lambda found: found.group(1) + HIDDEN, query)
    token = _api_token(request)
    if token:
        query = query.replace(token, HIDDEN)
    return f"{request.path}?{query}"


def _api_token(request: web.BaseRequest) -> str | None:
    try:
        token = request.app[SETTINGS].device_api_token  # type: ignore[attr-defined]
    except (AttributeError, KeyError):  # a request aiohttp could not parse has no app
        return None
    return token.get_secret_value() if token is not None else None


def _printable(text: str) -> str:
    return ascii(shorten(text))[1:-1]
