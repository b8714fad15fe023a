"""The robots' chat gateway on the device API: ``POST /v1/chat/completions``, ``GET /v1/models``.

OpenAI's shapes throughout, errors included (``{"error": {"message", "type", "param",
"code"}}``), so the ``openai`` SDK and robot firmware written for OpenAI work unchanged. The
robot is whoever owns the Bearer key; ``model`` in the request is ignored: kobo answers with the
model assigned to that robot now, so a new assignment takes effect on its very next sentence.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from config.settings import GatewaySettings
from device_api.responses import UnbrandedResponse
from gateway.errors import BadChatRequest, GatewayError
from gateway.keys import InvalidKey
from gateway.service import Gateway
from gateway.shaping import Usage, dump, fit_body, read_chat_request
from i18n import msg
from storage.last_seen import LastSeenRecorder
from storage.robot_keys import RobotCredentials

log = logging.getLogger(__name__)

JSON = "application/json"
# Answers hold Japanese as UTF-8 (not \u escapes, which would double their size): say so.
UTF8 = "utf-8"


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
        except GatewayError:
            await chunks.aclose()
            raise
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.headers["Cache-Control"] = "no-cache"
        failed = False
        try:
            await response.prepare(request)
            try:
                chunk = first
                while chunk is not None:
                    usage = Usage.of(chunk) if chunk.get("usage") else usage
                    await response.write(b"data: " + dump(chunk) + b"\n\n")
                    chunk = await anext(chunks, None)
            except GatewayError as error:
                failed = True  # too late for a status code: OpenAI sends the error as an event
                await response.write(b"data: " + dump(error.body()) + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            # The client left in the middle of the answer: nobody to tell, nothing went wrong
            # here; the chat counts as failed for the robot.
            log.info("robot %d left during a streamed answer", robot.stack_id)
            failed = True
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
    limit = settings.gateway_max_request_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise _too_large(limit)
    try:
        return json.loads(body)
    except ValueError:
        raise BadChatRequest(msg("gateway.request.not_json")) from None


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


def _json(payload: Any) -> web.Response:
    return UnbrandedResponse(body=dump(payload), content_type=JSON, charset=UTF8)


async def openai_not_found(request: web.Request) -> web.Response:
    error = BadChatRequest(msg("gateway.no_such_endpoint", path=request.path[:100]))
    error.status = 404
    return error_response(error)


def openai_errors(handler: Handler) -> Handler:
    """A bug answers 500 in OpenAI's error shape (robots say わかりません), never HTML."""

    @functools.wraps(handler)
    async def answer_errors_as_openai(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            return error_response(Unexpected(msg("gateway.unexpected")))

    return answer_errors_as_openai


class Unexpected(GatewayError):
    pass
