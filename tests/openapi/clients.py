"""Clients for kobo's HTTP apps in tests that check every response against OpenAI's schema.

- :func:`openai_client`: the real ``openai`` SDK over an httpx2 transport that checks each
  JSON body when it has arrived, and each event of a stream as it arrives;
- :func:`checked_session`: an ``aiohttp.ClientSession`` whose responses check their body when
  it is read (``read``/``text``/``json``).

A mismatch raises :class:`~tests.openapi.schema.SchemaMismatch` where the client reads, and is
also recorded, so a test that catches it still fails (tests/openapi/plugin.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import openai

from tests.openapi.schema import (
    EVENT_STREAM,
    EventStreamCheck,
    SchemaMismatch,
    check_response,
    is_checked,
    media_type,
)

mismatches: list[SchemaMismatch] = []


def recorded(error: SchemaMismatch) -> SchemaMismatch:
    mismatches.append(error)
    return error


def openai_client(base_url: str, api_key: str, **options: Any) -> openai.AsyncOpenAI:
    """``openai.AsyncOpenAI(base_url=..., api_key=..., **options)`` with the check wired in."""
    http_client = openai.DefaultAsyncHttpxClient(transport=CheckingTransport())
    return openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key, http_client=http_client, **options
    )


class CheckingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None):
        self._inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if is_checked(request.url.path) and request.method != "HEAD":
            encoding = response.headers.get("content-encoding", "identity")
            if encoding != "identity":
                await response.aclose()
                raise recorded(SchemaMismatch(f"cannot check a {encoding}-encoded body"))
            response.stream = CheckedStream(response.stream, request, response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class CheckedStream(httpx2.AsyncByteStream):
    """Passes the body on unchanged, checking it on the way."""

    def __init__(
        self, inner: httpx2.AsyncByteStream, request: httpx2.Request, response: httpx2.Response
    ):
        self._inner = inner
        self._method = request.method
        self._path = request.url.path
        self._status = response.status_code
        self._content_type = response.headers.get("content-type")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if media_type(self._content_type) == EVENT_STREAM and self._status < 400:
                events = EventStreamCheck(self._method, self._path, self._status)
                async for chunk in self._inner:
                    for event in events.feed(chunk):
                        yield event  # the events before a bad one reach the client
                if left := events.finish():
                    yield left
                return
            body = bytearray()
            async for chunk in self._inner:
                body += chunk
            check_response(self._method, self._path, self._status, self._content_type, bytes(body))
            yield bytes(body)
        except SchemaMismatch as error:
            raise recorded(error) from None

    async def aclose(self) -> None:
        await self._inner.aclose()


class CheckedResponse(aiohttp.ClientResponse):
    async def read(self) -> bytes:
        first = self._body is None
        body = await super().read()
        if first:
            try:
                check_response(
                    self.method, self.url.path, self.status, self.headers.get("Content-Type"), body
                )
            except SchemaMismatch as error:
                raise recorded(error) from None
        return body


def checked_session(**options: Any) -> aiohttp.ClientSession:
    """``aiohttp.ClientSession(**options)`` whose responses check their body when read."""
    return aiohttp.ClientSession(response_class=CheckedResponse, **options)
