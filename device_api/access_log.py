"""The device API's access log: one short line per request, whatever the client sent.

aiohttp's default line quotes the whole request line, ``Referer`` and ``User-Agent``, each up to
8 KB of the client's choosing; this one cuts each to 100 characters and escapes anything that is
not printable ASCII, so a hostile client can neither flood the log with long lines nor write
terminal escapes into it.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from device_api.errors import shorten


class ShortAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %d %.1fms "%s"',
            request.remote,
            _printable(request.method),
            _printable(request.path_qs),
            response.status,
            response.body_length,
            time * 1000,
            _printable(request.headers.get("User-Agent", "-")),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def _printable(text: str) -> str:
    return ascii(shorten(text))[1:-1]
