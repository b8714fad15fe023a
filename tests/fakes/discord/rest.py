"""Discord REST v10 over HTTP: routing, body parsing, recording and the endpoints.

Every call under ``/api/v10`` is recorded (method, path, query, JSON body, uploaded files
with filename + bytes, status, response) in ``world.requests``. Bodies may be JSON or
``multipart/form-data`` with ``payload_json`` + ``files[n]``, as discord.py sends them.
Responses use ``Content-Type: application/json`` exactly (discord.py only parses that).
Bot endpoints require ``Authorization: Bot <token>`` (401 otherwise); interaction
callbacks and interaction webhooks take no auth, as in Discord. An endpoint the fake
does not implement answers 404 and lands in ``world.unhandled``.

Endpoints: users/@me, users/{id}, oauth2/applications/@me, gateway(/bot), application
commands (global + guild: list/bulk-overwrite/create/get/edit/delete), guilds/{id}
(+ channels, roles, members/{id}), channels/{id}, channel messages (list/create/get/
edit/delete), typing, interaction callbacks and interaction webhooks (see responses.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord import responses
from tests.fakes.discord.messages import DiscordApiError, apply_edit
from tests.fakes.discord.models import FakeFile, RecordedRequest
from tests.fakes.discord.world import DiscordWorld

API_PREFIX = "/api/v10"
_FILE_FIELD = re.compile(r"files\[(\d+)\]")
NO_CONTENT = object()  # handler result meaning "204 No Content"


@dataclass
class ApiRequest:
    """A parsed REST call plus the path parameters its route captured."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    uploads: dict[int, FakeFile]
    params: dict[str, str] = field(default_factory=dict)

    def int_param(self, name: str) -> int:
        return int(self.params[name])

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


Handler = Callable[[ApiRequest], Awaitable[Any]]


def json_response(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


async def parse_body(request: web.Request) -> tuple[Any, dict[int, FakeFile]]:
    """JSON body, or multipart ``payload_json`` + ``files[n]`` parts."""
    if request.content_type == "multipart/form-data":
        body: Any = {}
        uploads: dict[int, FakeFile] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            name = part.name or ""  # type: ignore[union-attr]
            if name == "payload_json":
                body = json.loads(await part.text())  # type: ignore[union-attr]
            elif match := _FILE_FIELD.fullmatch(name):
                data = bytes(await part.read())  # type: ignore[union-attr]
                # Discord derives the content type from the filename, not the part header.
                uploads[int(match.group(1))] = FakeFile(filename=part.filename or name, data=data)  # type: ignore[union-attr]
        return body, uploads
    raw = await request.read()
    if not raw:
        return None, {}
    try:
        return json.loads(raw), {}
    except ValueError as exc:
        raise DiscordApiError(400, 50109, "The request body contains invalid JSON.") from exc


class RestApi:
    """The REST endpoints, bound to one ``DiscordWorld``."""

    def __init__(self, world: DiscordWorld, gateway_url: Callable[[], str]) -> None:
        self.world = world
        self._gateway_url = gateway_url
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self._register()

    def _route(self, method: str, pattern: str, handler: Handler, *, auth: bool = True) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method, regex, handler, auth))

    def _register(self) -> None:
        r = self._route
        r("GET", "/users/@me", self.get_me)
        r("GET", "/users/{user_id}", self.get_user)
        r("GET", "/oauth2/applications/@me", self.get_application)
        r("GET", "/gateway", self.get_gateway, auth=False)
        r("GET", "/gateway/bot", self.get_gateway)
        for scope in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            r("GET", scope + "/commands", self.list_commands)
            r("PUT", scope + "/commands", self.overwrite_commands)
            r("POST", scope + "/commands", self.create_command)
            r("GET", scope + "/commands/{command_id}", self.get_command)
            r("PATCH", scope + "/commands/{command_id}", self.edit_command)
            r("DELETE", scope + "/commands/{command_id}", self.delete_command)
        r("GET", "/guilds/{guild_id}", self.get_guild)
        r("GET", "/guilds/{guild_id}/channels", self.get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self.get_guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self.get_guild_member)
        r("GET", "/channels/{channel_id}", self.get_channel)
        r("POST", "/channels/{channel_id}/typing", self.trigger_typing)
        r("GET", "/channels/{channel_id}/messages", self.list_messages)
        r("POST", "/channels/{channel_id}/messages", self.create_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        r("POST", "/interactions/{interaction_id}/{token}/callback", self.callback, auth=False)
        hook = "/webhooks/{app_id}/{token}"
        r("POST", hook, self.execute_webhook, auth=False)
        r("GET", hook + "/messages/{message_ref}", self.get_webhook_message, auth=False)
        r("PATCH", hook + "/messages/{message_ref}", self.edit_webhook_message, auth=False)
        r("DELETE", hook + "/messages/{message_ref}", self.delete_webhook_message, auth=False)

    # -- plumbing ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        record = RecordedRequest(
            method=request.method, path=path, query=dict(request.query), json=None, files=[]
        )
        self.world.requests.append(record)
        try:
            body, uploads = await parse_body(request)
            record.json = body
            record.files = [uploads[i] for i in sorted(uploads)]
            handler, params, needs_auth = self._match(request.method, path)
            if handler is None:
                self.world.unhandled.append(record)
                raise DiscordApiError(
                    404, 0, f"the fake Discord does not implement {request.method} {path}"
                )
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.world.bot_token}":
                raise DiscordApiError(401, 0, "401: Unauthorized")
            api_request = ApiRequest(
                request.method, path, dict(request.query), body, uploads, params
            )
            result = await handler(api_request)
        except DiscordApiError as error:
            record.status, record.response = error.status, error.to_body()
            self.world.signal.notify()
            return json_response(error.status, error.to_body())
        self.world.signal.notify()
        if result is NO_CONTENT:
            record.status = 204
            return web.Response(status=204)
        record.status, record.response = 200, result
        return json_response(200, result)

    def _match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        for route_method, regex, handler, auth in self._routes:
            if route_method == method and (match := regex.match(path)):
                return handler, match.groupdict(), auth
        return None, {}, False

    def _check_app(self, request: ApiRequest) -> int | None:
        if request.int_param("app_id") != self.world.application_id:
            raise DiscordApiError(403, 50001, "Missing Access")
        guild_id = request.params.get("guild_id")
        if guild_id is None:
            return None
        return self.world.guild(int(guild_id)).id

    # -- users, application, gateway --------------------------------------------------------

    async def get_me(self, request: ApiRequest) -> Any:
        return {**self.world.bot_user.to_payload(), "verified": True, "mfa_enabled": False}

    async def get_user(self, request: ApiRequest) -> Any:
        user = self.world.users.get(request.int_param("user_id"))
        if user is None:
            raise DiscordApiError(404, 10013, "Unknown User")
        return user.to_payload()

    async def get_application(self, request: ApiRequest) -> Any:
        world = self.world
        return {
            "id": str(world.application_id),
            "name": world.bot_user.name,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": world.bot_user.to_payload(),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "bot": world.bot_user.to_payload(),
        }

    async def get_gateway(self, request: ApiRequest) -> Any:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {"url": self._gateway_url(), "shards": 1, "session_start_limit": limit}

    # -- application commands --------------------------------------------------------------

    async def list_commands(self, request: ApiRequest) -> Any:
        return self.world.commands.list(self._check_app(request))

    async def overwrite_commands(self, request: ApiRequest) -> Any:
        return self.world.commands.overwrite(self._check_app(request), request.body)

    async def create_command(self, request: ApiRequest) -> Any:
        return self.world.commands.create(self._check_app(request), request.body)

    async def get_command(self, request: ApiRequest) -> Any:
        guild_id = self._check_app(request)
        return self.world.commands.get(guild_id, request.int_param("command_id"))

    async def edit_command(self, request: ApiRequest) -> Any:
        guild_id = self._check_app(request)
        return self.world.commands.edit(guild_id, request.int_param("command_id"), request.body)

    async def delete_command(self, request: ApiRequest) -> Any:
        guild_id = self._check_app(request)
        self.world.commands.delete(guild_id, request.int_param("command_id"))
        return NO_CONTENT

    # -- guilds -----------------------------------------------------------------------------

    async def get_guild(self, request: ApiRequest) -> Any:
        payload = self.world.guild(request.int_param("guild_id")).to_payload()
        for key in ("channels", "members", "threads", "voice_states", "presences", "joined_at"):
            payload.pop(key, None)  # REST guild objects carry none of the gateway-only keys
        return payload

    async def get_guild_channels(self, request: ApiRequest) -> Any:
        guild = self.world.guild(request.int_param("guild_id"))
        return [c.to_payload() for c in guild.channels if c.fault != "unknown"]

    async def get_guild_roles(self, request: ApiRequest) -> Any:
        return [r.to_payload() for r in self.world.guild(request.int_param("guild_id")).roles]

    async def get_guild_member(self, request: ApiRequest) -> Any:
        guild = self.world.guild(request.int_param("guild_id"))
        member = guild.member(request.int_param("user_id"))
        if member is None:
            raise DiscordApiError(404, 10007, "Unknown Member")
        return member.to_payload()

    # -- channels and messages ---------------------------------------------------------------

    async def get_channel(self, request: ApiRequest) -> Any:
        return self.world.channel(request.int_param("channel_id")).to_payload()

    async def trigger_typing(self, request: ApiRequest) -> Any:
        self.world.channel(request.int_param("channel_id"))
        return NO_CONTENT

    async def list_messages(self, request: ApiRequest) -> Any:
        channel = self.world.channel(request.int_param("channel_id"))
        messages = sorted(self.world.channel_messages(channel), key=lambda m: m.id, reverse=True)
        if "before" in request.query:
            messages = [m for m in messages if m.id < int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if m.id > int(request.query["after"])]
        limit = min(int(request.query.get("limit", 50)), 100)
        return [m.to_payload() for m in messages[:limit]]

    async def create_message(self, request: ApiRequest) -> Any:
        channel = self.world.channel(request.int_param("channel_id"))
        message = self.world.create_channel_message(channel, request.body or {}, request.uploads)
        return message.to_payload()

    async def get_message(self, request: ApiRequest) -> Any:
        channel = self.world.channel(request.int_param("channel_id"))
        return self.world.message(channel, request.int_param("message_id")).to_payload()

    async def edit_message(self, request: ApiRequest) -> Any:
        channel = self.world.channel(request.int_param("channel_id"))
        message = self.world.message(channel, request.int_param("message_id"))
        if message.author is not self.world.bot_user:
            raise DiscordApiError(403, 50005, "Cannot edit a message authored by another user")
        apply_edit(message, request.body or {}, request.uploads, host=self.world.host_file)
        return message.to_payload()

    async def delete_message(self, request: ApiRequest) -> Any:
        channel = self.world.channel(request.int_param("channel_id"))
        self.world.message(channel, request.int_param("message_id")).deleted = True
        return NO_CONTENT

    # -- interactions -----------------------------------------------------------------------

    async def callback(self, request: ApiRequest) -> Any:
        interaction_id = request.int_param("interaction_id")
        body = request.body or {}
        reply = responses.create_callback(
            self.world, interaction_id, request.params["token"], body, request.uploads
        )
        return reply if request.flag("with_response") else NO_CONTENT

    def _hook(self, request: ApiRequest) -> Any:
        return responses.webhook_interaction(
            self.world, request.int_param("app_id"), request.params["token"]
        )

    async def execute_webhook(self, request: ApiRequest) -> Any:
        interaction = self._hook(request)
        message = responses.create_followup(
            self.world, interaction, request.body or {}, request.uploads
        )
        return message.to_payload() if request.flag("wait") else NO_CONTENT

    async def get_webhook_message(self, request: ApiRequest) -> Any:
        message = responses.webhook_message(self._hook(request), request.params["message_ref"])
        return message.to_payload()

    async def edit_webhook_message(self, request: ApiRequest) -> Any:
        message = responses.edit_webhook_message(
            self.world,
            self._hook(request),
            request.params["message_ref"],
            request.body or {},
            request.uploads,
        )
        return message.to_payload()

    async def delete_webhook_message(self, request: ApiRequest) -> Any:
        responses.delete_webhook_message(
            self.world, self._hook(request), request.params["message_ref"]
        )
        return NO_CONTENT
