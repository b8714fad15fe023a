"""The robots' chat gateway on the device API: ``POST /v1/chat/completions``, ``GET /v1/models``.

OpenAI's shapes throughout, errors included (``{"error": {"message", "type", "param",
"code"}}``), so the ``openai`` SDK and robot firmware written for OpenAI work unchanged. The
robot is whoever owns the Bearer key; ``model`` in the request is ignored: kobo answers with the
model assigned to that robot now, so a new assignment takes effect on its very next sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from config.settings import GatewaySettings
from device_api.responses import UnbrandedResponse, UnbrandedStreamResponse
from gateway.errors import BadChatRequest, GatewayError
from gateway.keys import InvalidKey
from gateway.service import Gateway
from gateway.shaping import Usage, dump, fit_body, read_chat_request
from http_common.bodies import BodyError, BodyTooDeep, BodyTooLarge, NonFiniteNumber, read_json
from i18n import msg
from storage.last_seen import LastSeenRecorder
from storage.robot_keys import RobotCredentials

log = logging.getLogger(__name__)

JSON = "application/json"
# Answers hold Japanese as UTF-8 (not \u escapes, which would double their size): say so.
UTF8 = "utf-8"


# The streamed answer a handler has started: after that, errors are events in it.
OPEN_STREAM = web.RequestKey("open_stream", web.StreamResponse)


class Unauthorized(GatewayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="kobo"'}


class GatewayEndpoints:
    """The handlers; the app's startup hands them the gateway and the last-seen recorder."""

    def __init__(self) -> None:
        self._gateway: Gateway | None = None
        self._recorder: LastSeenRecorder | None = None

    def serve(self, gateway: Gateway, recorder: LastSeenRecorder) -> None:
        self._gateway, self._recorder = gateway, recorder

    async def models(self, request: web.Request) -> web.StreamResponse:
        try:
            robot = await self._robot(request)
            names = await self._gateway.model_names(robot)
        except GatewayError as error:
            return error_response(error)
        created = int(time.time())
        return _json(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": created, "owned_by": "kobo"}
                    for name in names
                ],
            }
        )

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        gateway = self._gateway
        try:
            robot = await self._robot(request)
        except GatewayError as error:
            return error_response(error)
        self._recorder.record(robot.stack_id, request.remote, assigned=robot.model is not None)
        model = gateway.model_of(robot)
        try:
            chat = read_chat_request(await _read_json(request, gateway.settings))
            if chat.get("stream"):
                return await self._stream(request, robot, model, chat)
            answer = await gateway.answer(model, chat)
        except GatewayError as error:
            await gateway.count(robot.stack_id, error=True)
            return error_response(error)
        await gateway.count(robot.stack_id, error=False, usage=answer.usage)
        body = fit_body(answer.body, gateway.policy.max_reply_bytes)
        return UnbrandedResponse(body=body, content_type=JSON, charset=UTF8)

    async def _stream(
        self, request: web.Request, robot: RobotCredentials, model: str, chat: dict[str, Any]
    ) -> web.StreamResponse:
        gateway = self._gateway
        chunks = gateway.stream(model, chat)
        usage = Usage()
        try:
            # The first chunk before any header: an error up to here is still a clean JSON error.
            first = await anext(chunks, None)
        except Exception:
            await chunks.aclose()  # gives its place in line back now
            raise
        response = UnbrandedStreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        failed = True
        try:
            await response.prepare(request)
            request[OPEN_STREAM] = response
            usage, error = await _send_chunks(response, first, chunks)
            failed = error is not None
            await end_stream(response, error)
        except ConnectionResetError:
            # The client left in the middle of the answer: nobody to tell, nothing went wrong
            # here; the chat counts as failed for the robot.
            log.info("robot %d left during a streamed answer", robot.stack_id)
        finally:
            await chunks.aclose()
            await gateway.count(robot.stack_id, error=failed, usage=usage)
        return response

    async def _robot(self, request: web.Request) -> RobotCredentials:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized(msg("gateway.key_missing"))
        try:
            return await self._gateway.keys.authenticate(key.strip())
        except InvalidKey:
            log.warning("refused a robot key from %s", request.remote)
            raise Unauthorized(msg("gateway.key_invalid")) from None


async def _read_json(request: web.Request, settings: GatewaySettings) -> Any:
    """The whole body as JSON (http_common.bodies), or the BadChatRequest that says why not."""
    try:
        return await read_json(request, settings.gateway_max_request_bytes)
    except BodyError as error:
        raise _refusal(error) from None
    except ConnectionResetError:
        # The robot hung up (its Wi-Fi dropped): no bug, and nobody to answer; the chat
        # counts as failed.
        log.info("a robot left before sending its whole request")
        raise BadChatRequest(msg("gateway.request.incomplete")) from None


def _refusal(error: BodyError) -> BadChatRequest:
    if isinstance(error, BodyTooLarge):
        return _too_large(error.limit)
    if isinstance(error, BodyTooDeep):
        return BadChatRequest(msg("gateway.request.too_deep", depth=error.max_depth))
    if isinstance(error, NonFiniteNumber):
        return BadChatRequest(msg("gateway.request.not_finite", field=error.field), error.field)
    return BadChatRequest(msg("gateway.request.not_json"))


def _too_large(limit: int) -> BadChatRequest:
    error = BadChatRequest(msg("gateway.request.too_large", limit=limit))
    error.status = 413
    return error


def error_response(error: GatewayError) -> web.Response:
    return UnbrandedResponse(
        body=dump(error.body()),
        status=error.status,
        content_type=JSON,
        charset=UTF8,
        headers=error.headers(),
    )


async def _send_chunks(
    response: web.StreamResponse, first: dict[str, Any] | None, chunks: AsyncIterator[dict]
) -> tuple[Usage, GatewayError | None]:
    """Each chunk as an event: the answer's usage, and the error that ended it if one did.
    Too late for a status code, an error is an event (as OpenAI sends it), whatever it is."""
    usage, chunk = Usage(), first
    try:
        while chunk is not None:
            usage = Usage.of(chunk) if chunk.get("usage") else usage
            await response.write(b"data: " + dump(chunk) + b"\n\n")
            chunk = await anext(chunks, None)
    except GatewayError as error:
        return usage, error
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("unexpected error in a streamed answer")
        return usage, Unexpected(msg("gateway.unexpected"))
    return usage, None


async def end_stream(response: web.StreamResponse, error: GatewayError | None = None) -> None:
    """The end of a streamed answer: the error event if there is one, then ``[DONE]``."""
    if error is not None:
        await response.write(b"data: " + dump(error.body()) + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()


def _json(payload: Any) -> web.Response:
    return UnbrandedResponse(body=dump(payload), content_type=JSON, charset=UTF8)


async def openai_not_found(request: web.Request) -> web.Response:
    error = BadChatRequest(msg("gateway.no_such_endpoint", path=request.path[:100]))
    error.status = 404
    return error_response(error)


def openai_errors(handler: Handler) -> Handler:
    """A bug answers 500 in OpenAI's error shape (robots say わかりません), never HTML; in a
    streamed answer already started, it is an error event that ends it, never a second
    response written into the first."""

    @functools.wraps(handler)
    async def answer_errors_as_openai(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            error = Unexpected(msg("gateway.unexpected"))
            stream = request.get(OPEN_STREAM)
            if stream is None:
                return error_response(error)
            with contextlib.suppress(ConnectionError, RuntimeError):  # gone, or already ended
                await end_stream(stream, error)
            return stream

    return answer_errors_as_openai


class Unexpected(GatewayError):
    pass
