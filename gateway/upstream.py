"""Any OpenAI-compatible chat server kobo forwards to: OpenAI, the embedded engine, vLLM.

Plain aiohttp rather than the ``openai`` SDK: a proxy must pass fields through as they are
(``function_call``, fields the SDK does not know) and should not parse every streamed chunk
into objects; the SDK's own retries would also hide a slow upstream from the robot's clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from gateway.errors import (
    GatewayError,
    Overloaded,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from http_common.bodies import BodyError, parse_json
from i18n import Message, msg

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10.0
# What of an upstream's error message is passed on (it may quote the request at length).
MAX_DETAIL_CHARS = 300
# What kobo reads of an upstream before parsing it. A whole answer of GATEWAY_MAX_ANSWER_TOKENS
# (at most 4,096) tokens is tens of kilobytes, one streamed chunk well under one; a server that
# sends more is broken or hostile, and its answer is refused rather than read into memory.
MAX_ANSWER_BYTES = 256 * 1024
MAX_EVENT_BYTES = 64 * 1024
MAX_STREAM_BYTES = 4 * 1024 * 1024
MAX_ERROR_BYTES = 16 * 1024
# Bigger answers are parsed in a worker thread: the event loop serves the other robots meanwhile.
PARSE_INLINE_BYTES = 16 * 1024
# When a 429 says nothing usable about when to come back.
DEFAULT_RETRY_SECONDS = 5


class Upstream:
    """One OpenAI-compatible server at ``base_url`` (ending in ``/v1``)."""

    def __init__(
        self,
        name: Message,
        base_url: str,
        api_key: str | None,
        *,
        timeout_seconds: float,
        connections: int,
        is_openai: bool = False,
    ):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout_seconds = timeout_seconds
        self._connections = connections
        self._is_openai = is_openai
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout_seconds, connect=min(CONNECT_SECONDS, self._timeout_seconds)
                ),
                headers=self._headers,
                # Answers are JSON we parse ourselves; no cookies between robots.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """POST /chat/completions; once more on a new connection when the kept-alive one it
        was sent on turns out closed (a server may close an idle connection at any moment,
        llama.cpp's does): that request never reached the server."""
        url = f"{self.base_url}/chat/completions"
        try:
            return await self._client().post(url, json=body)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            log.info("%s closed a kept-alive connection (%s); sending again", self.base_url, exc)
            return await self._client().post(url, json=body)

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /chat/completions without streaming: the upstream's JSON answer, an object."""
        try:
            async with await self._post(body) as response:
                if response.status >= 400:
                    raise await self._refusal(response)
                raw = await _read_at_most(response, MAX_ANSWER_BYTES)
                if raw is None:
                    raise self._too_large(MAX_ANSWER_BYTES)
        except GatewayError:
            raise
        except TimeoutError:
            raise UpstreamTimeout(self.name, self._timeout_seconds) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise self._unreachable(exc) from None
        if len(raw) > PARSE_INLINE_BYTES:
            answer = await asyncio.to_thread(self._parse, raw)
        else:
            answer = self._parse(raw)
        if not isinstance(answer, dict):
            raise self.unusable("not a JSON object")
        return answer

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[Any]:
        """POST /chat/completions with ``stream: true``: each SSE chunk, parsed (any JSON)."""
        try:
            async with await self._post(body) as response:
                if response.status >= 400:
                    raise await self._refusal(response)
                read = 0
                while line := await response.content.readline(max_line_length=MAX_EVENT_BYTES):
                    read += len(line)
                    if read > MAX_STREAM_BYTES:
                        raise self._too_large(MAX_STREAM_BYTES)
                    line = line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    chunk = self._parse(data)
                    if isinstance(chunk, dict) and "error" in chunk:
                        raise UpstreamRefused(
                            msg(
                                "gateway.upstream_error",
                                upstream=self.name,
                                status=response.status,
                                detail=_detail(chunk),
                            )
                        )
                    yield chunk
        except GatewayError:
            raise
        except TimeoutError:
            raise UpstreamTimeout(self.name, self._timeout_seconds) from None
        except HttpProcessingError:  # a line longer than MAX_EVENT_BYTES
            raise self._too_large(MAX_EVENT_BYTES) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise self._unreachable(exc) from None

    def _parse(self, raw: bytes) -> Any:
        """Strict JSON, as robots' requests are read: non-finite numbers (NaN, Infinity, 1e999)
        and deep nesting are not chat completions, and would make kobo's own answer invalid."""
        try:
            return parse_json(raw)
        except BodyError as exc:
            raise self.unusable(str(exc)[:MAX_DETAIL_CHARS]) from None

    def unusable(self, reason: str) -> UpstreamRefused:
        """The 502 for an answer kobo cannot pass on; ``reason`` is for the log only."""
        log.warning("%s sent an unusable answer: %s", self.name.render("en"), reason)
        return UpstreamRefused(msg("gateway.upstream_bad_answer", upstream=self.name))

    def _too_large(self, limit: int) -> UpstreamRefused:
        log.warning("%s sent more than %d bytes", self.name.render("en"), limit)
        return UpstreamRefused(msg("gateway.upstream_too_large", upstream=self.name, limit=limit))

    def _unreachable(self, exc: Exception) -> UpstreamUnavailable:
        log.warning("%s at %s: %s", self.name.render("en"), self.base_url, exc)
        reason = type(exc).__name__ if not str(exc) else str(exc)[:MAX_DETAIL_CHARS]
        return UpstreamUnavailable(
            msg("gateway.upstream_unavailable", upstream=self.name, reason=reason)
        )

    async def _refusal(self, response: aiohttp.ClientResponse) -> GatewayError:
        try:
            raw = await _read_at_most(response, MAX_ERROR_BYTES)
            payload = parse_json(raw) if raw else None
        except (BodyError, aiohttp.ClientError):
            payload = None
        status = response.status
        detail = _detail(payload) or (response.reason or str(status))[:MAX_DETAIL_CHARS]
        log.warning("%s refused a chat (%d): %s", self.name.render("en"), status, detail)
        if status in (401, 403) and self._is_openai:
            # Never pass this on as the robot's 401: the robot's key is fine, kobo's is not.
            return UpstreamRefused(msg("gateway.openai_key_refused"))
        if status == 429:
            return Overloaded(_retry_seconds(response.headers.get("Retry-After", "")))
        error = UpstreamRefused(
            msg("gateway.upstream_error", upstream=self.name, status=status, detail=detail)
        )
        if status in (400, 404, 422):
            # The model or the request is wrong: say so as OpenAI would, not as a server fault.
            error.status = 404 if status == 404 else 400
            error.type = "invalid_request_error"
            error.code = None
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                error.code = payload["error"].get("code")
                error.param = payload["error"].get("param")
        return error


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than ``limit`` bytes."""
    if response.content_length is not None and response.content_length > limit:
        return None
    body = bytearray()
    async for piece in response.content.iter_chunked(limit + 1):
        body += piece
        if len(body) > limit:
            return None
    return bytes(body)


def _retry_seconds(header: str) -> int:
    """Retry-After in seconds; its HTTP-date form or nonsense reads as a few seconds
    (Overloaded keeps any number within bounds)."""
    header = header.strip()
    if not (header.isascii() and header.isdigit()):
        return DEFAULT_RETRY_SECONDS
    return int(header) if len(header) <= 9 else 10**9


def _detail(payload: Any) -> str:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    if not isinstance(error, str):
        return ""
    error = error.encode("utf-8", "replace").decode("utf-8")  # no lone surrogate into the log
    return error if len(error) <= MAX_DETAIL_CHARS else error[:MAX_DETAIL_CHARS] + "..."
