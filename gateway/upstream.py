"""Any OpenAI-compatible chat server kobo forwards to: OpenAI, the embedded engine, vLLM.

Plain aiohttp rather than the ``openai`` SDK: a proxy must pass fields through as they are
(``function_call``, fields the SDK does not know) and should not parse every streamed chunk
into objects; the SDK's own retries would also hide a slow upstream from the robot's clock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from gateway.errors import (
    GatewayError,
    Overloaded,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from i18n import Message, msg

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10.0
# What of an upstream's error message is passed on (it may quote the request at length).
MAX_DETAIL_CHARS = 300


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
        """POST /chat/completions without streaming: the upstream's JSON answer."""
        try:
            async with await self._post(body) as response:
                if response.status >= 400:
                    raise await self._refusal(response)
                answer = await response.json(content_type=None)
        except GatewayError:
            raise
        except TimeoutError:
            raise UpstreamTimeout(self.name, self._timeout_seconds) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise self._unreachable(exc) from None
        if not isinstance(answer, dict) or not answer.get("choices"):
            raise UpstreamRefused(msg("gateway.upstream_bad_answer", upstream=self.name))
        return answer

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """POST /chat/completions with ``stream: true``: each SSE chunk, parsed."""
        try:
            async with await self._post(body) as response:
                if response.status >= 400:
                    raise await self._refusal(response)
                async for raw in response.content:
                    line = raw.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    chunk = json.loads(data)
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
        except (aiohttp.ClientError, ValueError) as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: Exception) -> UpstreamUnavailable:
        log.warning("%s at %s: %s", self.name.render("en"), self.base_url, exc)
        reason = type(exc).__name__ if not str(exc) else str(exc)[:MAX_DETAIL_CHARS]
        return UpstreamUnavailable(
            msg("gateway.upstream_unavailable", upstream=self.name, reason=reason)
        )

    async def _refusal(self, response: aiohttp.ClientResponse) -> GatewayError:
        try:
            payload = await response.json(content_type=None)
        except (ValueError, aiohttp.ClientError):
            payload = None
        status = response.status
        detail = _detail(payload) or response.reason or str(status)
        log.warning("%s refused a chat (%d): %s", self.name.render("en"), status, detail)
        if status in (401, 403) and self._is_openai:
            # Never pass this on as the robot's 401: the robot's key is fine, kobo's is not.
            return UpstreamRefused(msg("gateway.openai_key_refused"))
        if status == 429:
            retry = response.headers.get("Retry-After", "")
            return Overloaded(int(retry) if retry.isdigit() else 5)
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


def _detail(payload: Any) -> str:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    if not isinstance(error, str):
        return ""
    return error if len(error) <= MAX_DETAIL_CHARS else error[:MAX_DETAIL_CHARS] + "..."
