"""Bearer-token check for ``/api/v1`` (the firmware's ``/get_text`` never needs one)."""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import SecretStr

from device_api.responses import json_error

log = logging.getLogger(__name__)


def bearer_token_required(token: SecretStr) -> Callable[[Handler], Handler]:
    """A decorator: 401 unless the request sends ``Authorization: Bearer <token>``."""
    expected = token.get_secret_value().encode("utf-8")

    def guard(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def require_bearer_token(request: web.Request) -> web.StreamResponse:
            scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                return _unauthorized(
                    "this endpoint needs 'Authorization: Bearer <DEVICE_API_TOKEN>'",
                    invalid=False,
                )
            # Constant-time compare: the response time says nothing about how much matched.
            given = credentials.strip().encode("utf-8", "surrogatepass")
            if not hmac.compare_digest(given, expected):
                log.warning("rejected a bearer token for %s from %s", request.path, request.remote)
                return _unauthorized("the bearer token is not valid", invalid=True)
            return await handler(request)

        return require_bearer_token

    return guard


def _unauthorized(message: str, *, invalid: bool) -> web.Response:
    challenge = 'Bearer realm="kobo"' + (', error="invalid_token"' if invalid else "")
    return json_error(401, message, headers={"WWW-Authenticate": challenge})
