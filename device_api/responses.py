"""The responses the device API sends: every one is built here.

Every body is compact JSON sent as bytes with ``Content-Type: application/json`` and no
``charset`` parameter: JSON is UTF-8 by definition (RFC 8259 has no charset parameter), our bodies
are pure ASCII (``ensure_ascii``), and the firmware's ESP32 ``HTTPClient`` reads raw bytes anyway.
No response carries aiohttp's ``Server`` header (it names the Python and aiohttp versions).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import hdrs, web

JSON = "application/json"


class UnbrandedResponse(web.Response):
    """A ``web.Response`` without the ``Server`` header.

    aiohttp adds that header while it prepares the headers, after the handler returned, and
    offers no setting for it; removing it here costs one call per response, where an
    ``on_response_prepare`` signal would cost two coroutines and miss the parser's errors.
    """

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self._headers.popall(hdrs.SERVER, None)


class UnbrandedStreamResponse(web.StreamResponse):
    """A streamed answer (the gateway's server-sent events) without the ``Server`` header."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self._headers.popall(hdrs.SERVER, None)


def dump(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def legacy_body(model: str) -> bytes:
    """``{"message":"<model>"}``: the one shape the field firmware can read (see views)."""
    return dump({"message": model})


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    return UnbrandedResponse(body=dump(payload), status=status, content_type=JSON, headers=headers)


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": message}, status=status, headers=headers)


def openai_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """OpenAI's error shape, for the robots' gateway (``/v1/...``) when no handler made one."""
    error = {"message": message, "type": _openai_type(status), "param": None, "code": None}
    return json_response({"error": error}, status=status, headers=headers)


def _openai_type(status: int) -> str:
    return "server_error" if status >= 500 else "invalid_request_error"


def etagged_json(request: web.Request, payload: Any) -> web.Response:
    """200 with a strong ETag of the body, or 304 when the client already has that body."""
    body = dump(payload)
    etag = hashlib.sha256(body).hexdigest()[:32]
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    for tag in request.if_none_match or ():
        if tag.value in (etag, "*"):
            return UnbrandedResponse(status=304, headers=headers)
    return UnbrandedResponse(body=body, content_type=JSON, headers=headers)
