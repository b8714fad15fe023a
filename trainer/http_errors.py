"""OpenAI's error shape for every answer that is not a success, and the Bearer-token check.

Errors are ``{"error": {"message", "type", "param", "code"}}`` with the status OpenAI would use,
so the ``openai`` SDK raises its usual exceptions (``BadRequestError``, ``AuthenticationError``,
``NotFoundError``, ``ConflictError``...). The texts are English, as OpenAI's are: the trainer's
clients are programs (kobo's bot, the CLI), which show them as the backend's own words.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import SecretStr

from http_common.bodies import BodyError, BodyTooDeep, BodyTooLarge, NonFiniteNumber
from http_common.protocol import JsonErrorsRequestHandler

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

INVALID_REQUEST = "invalid_request_error"
SHOWN_CHARS = 100  # of a client's text echoed in a message


class ApiError(Exception):
    """Raised by a handler: answered as OpenAI's error object with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str = INVALID_REQUEST,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": error.param,
                "code": error.code,
            }
        },
        status=error.status,
        headers=headers,
    )


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters: clients choose what we echo back."""
    return text if len(text) <= limit else text[:limit] + "..."


def api_middleware(token: SecretStr | None) -> Middleware:
    """Check the token (when one is set) before anything else, then answer every error in
    OpenAI's shape: unknown paths and methods, ``ApiError`` and unexpected exceptions (500)."""
    expected = token.get_secret_value().encode("utf-8") if token is not None else None

    @web.middleware
    async def openai_shaped(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is not None and (refusal := _refusal(request, expected)) is not None:
            return refusal
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except ConnectionResetError:
            # The client hung up in the middle of its request: nothing went wrong here, and
            # nobody is left to read the answer.
            log.info(
                "a client left %s %s before sending its whole body", request.method, request.path
            )
            return error_response(ApiError(400, "The connection closed before the whole body."))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return error_response(_http_error(request, exc), headers=_allow(exc))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            return error_response(
                ApiError(
                    500, "internal error; the trainer's log has the details", type_="server_error"
                )
            )

    return openai_shaped


def _refusal(request: web.Request, expected: bytes) -> web.Response | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return error_response(
            ApiError(
                401,
                "You didn't provide an API key: send 'Authorization: Bearer <TRAINER_TOKEN>'.",
            ),
            headers={"WWW-Authenticate": 'Bearer realm="kobo-trainer"'},
        )
    # Constant-time compare: the response time says nothing about how much matched.
    given = credentials.strip().encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given, expected):
        log.warning("rejected a bearer token for %s from %s", request.path, request.remote)
        return error_response(
            ApiError(401, "Incorrect API key provided.", code="invalid_api_key"),
            headers={"WWW-Authenticate": 'Bearer realm="kobo-trainer", error="invalid_token"'},
        )
    return None


def _http_error(request: web.Request, exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return ApiError(404, f"Unknown request URL: {request.method} {shorten(request.path)}")
    if exc.status == 405:
        return ApiError(405, f"Method {request.method} is not allowed on {shorten(request.path)}")
    if exc.status == 413:
        return ApiError(413, "The request body is too large.")
    return ApiError(exc.status, (exc.reason or "request failed").lower())


def body_refusal(error: BodyError) -> ApiError:
    """Why a JSON body cannot be used (http_common.bodies), as OpenAI's error."""
    if isinstance(error, BodyTooLarge):
        return ApiError(413, f"The request body is larger than {error.limit:,} bytes.")
    if isinstance(error, NonFiniteNumber):
        return ApiError(
            400,
            f"{shorten(error.field)} must be a finite number (NaN and Infinity are not JSON).",
            param=error.field,
        )
    if isinstance(error, BodyTooDeep):
        return ApiError(400, f"The request body is nested more than {error.max_depth} levels deep.")
    return ApiError(400, f"The request body is not valid JSON: {shorten(str(error))}")


class TrainerRequestHandler(JsonErrorsRequestHandler):
    """Requests aiohttp cannot parse (a path over 8 KB, a byte that is not ASCII...) get
    OpenAI's error too, and one DEBUG line, though they never reach the token check."""

    __slots__ = ()

    def error_response(self, status: int, text: str) -> web.Response:
        type_ = "server_error" if status >= 500 else INVALID_REQUEST
        return error_response(ApiError(status, text, type_=type_))


def _allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else None
