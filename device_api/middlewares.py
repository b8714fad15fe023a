"""JSON for every error, and bearer-token checks for ``/api/v1``."""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import SecretStr

from device_api.responses import json_error

log = logging.getLogger(__name__)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's HTML/text error pages and unexpected exceptions into JSON bodies."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _describe_http_error(request, exc)
    except asyncio.CancelledError:
        raise
    except Exception:
        # The traceback goes to the log only; the client learns nothing about our internals.
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return json_error(500, "internal server error; the server log has the details")


def _describe_http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    if isinstance(exc, web.HTTPNotFound):
        return json_error(404, f"no such endpoint: {request.path}")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return json_error(
            405,
            f"method {request.method} is not allowed on {request.path}; use {allowed}",
            headers={"Allow": exc.headers.get("Allow", allowed)},
        )
    return json_error(exc.status, exc.reason.lower() if exc.reason else "request failed")


def bearer_token_required(token: SecretStr) -> Middleware:
    """A middleware that answers 401 unless ``Authorization: Bearer <token>`` is sent."""
    expected = token.get_secret_value().encode("utf-8")

    @web.middleware
    async def require_bearer_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return _unauthorized(
                "this endpoint needs 'Authorization: Bearer <DEVICE_API_TOKEN>'", invalid=False
            )
        # Constant-time compare so the response time says nothing about how much matched.
        given = credentials.strip().encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, expected):
            log.warning("rejected a bearer token for %s from %s", request.path, request.remote)
            return _unauthorized("the bearer token is not valid", invalid=True)
        return await handler(request)

    return require_bearer_token


def _unauthorized(message: str, *, invalid: bool) -> web.Response:
    challenge = 'Bearer realm="kobo"' + (', error="invalid_token"' if invalid else "")
    return json_error(401, message, headers={"WWW-Authenticate": challenge})
