"""``FakeDiscord``: the fake server plus the API tests use to act as Discord users.

One aiohttp server on 127.0.0.1 (free port) serves REST under ``/api/v10``, the gateway
websocket at ``/gateway`` and uploaded/hosted files under ``/attachments``. The REAL
discord.py client talks to it once ``patched_discord()`` points ``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY`` here (``run_client`` does that for you).

Test-side API, in the words of a Discord user: build guilds/roles/channels/members,
invoke slash commands, autocomplete, press buttons, pick select options, submit modals,
read channel messages, inject channel faults, inspect every recorded REST call and the
mentions each message would ping, set a server's command permissions (Integrations).
Interactions come from guild members, or from a member's DM with the bot (``in_dm``);
threads are not simulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import discord
import yarl
from aiohttp import web

from tests.fakes.discord import interactions as ix
from tests.fakes.discord import permissions as perms
from tests.fakes.discord.gateway import GUILD_MEMBERS_INTENT, Gateway
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.mentions import SentMentions
from tests.fakes.discord.models import (
    DM_CHANNEL,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    RecordedRequest,
    iter_components,
)
from tests.fakes.discord.options import InvalidInvocation, build_options
from tests.fakes.discord.rest import API_PREFIX, RestApi
from tests.fakes.discord.snowflakes import new_snowflake
from tests.fakes.discord.world import DiscordWorld

BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
LABEL = 18


class FakeDiscord:
    """A Discord stand-in for end-to-end tests of a real discord.py bot.

    ``async with FakeDiscord() as fake:`` starts it; ``fake.bot_token`` is the token the
    bot must log in with. ``timeout`` is the default for every wait: a ceiling for a hang only,
    generous for a busy machine (a wait ends as soon as what it waits for happens).
    ``response_deadline`` is Discord's 3 s limit for the first interaction callback (``None``
    disables it).
    ``nonce_ttl`` is how long ``enforce_nonce`` remembers a nonce (Discord: a few minutes).
    ``enforce_default_permissions`` refuses invocations Discord would hide from the member;
    ``enforce_contexts`` refuses guild-only commands in DMs, as the Discord client does (turn
    either off to test a bot's own defence against what Discord should not deliver).
    ``port`` is where it listens (0: any free one); fixing it lets a bot be pointed at a
    Discord that is not up yet.
    """

    def __init__(
        self,
        *,
        bot_name: str = "kobo",
        bot_token: str = "fake-bot-token",
        application_id: int | None = None,
        timeout: float = 60.0,
        response_deadline: float | None = 3.0,
        nonce_ttl: float = 300.0,
        enforce_default_permissions: bool = True,
        enforce_contexts: bool = True,
        port: int = 0,
    ) -> None:
        self.port = port
        self.world = DiscordWorld(
            bot_name=bot_name,
            bot_token=bot_token,
            application_id=application_id,
            response_deadline=response_deadline,
            nonce_ttl=nonce_ttl,
        )
        self.timeout = timeout
        self.enforce_default_permissions = enforce_default_permissions
        self.enforce_contexts = enforce_contexts
        self.gateway = Gateway(self.world)
        self.rest = RestApi(self.world, lambda: self.gateway.url)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self.rest.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{file_id}/{filename}", self._serve_file)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.world.base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self.gateway.close_all()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return self.world.base_url

    @property
    def api_base(self) -> str:
        return self.world.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return self.gateway.url

    @property
    def bot_token(self) -> str:
        return self.world.bot_token

    @property
    def bot_user(self) -> FakeUser:
        return self.world.bot_user

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @contextlib.contextmanager
    def patched_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and gateway at this fake; restore them afterwards."""
        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    async def _serve_file(self, request: web.Request) -> web.Response:
        hosted = self.world.hosted.get(int(request.match_info["file_id"]))
        if hosted is None:
            return web.Response(status=404, text="attachment not found")
        return web.Response(body=hosted.data, content_type=hosted.content_type)

    # -- building the world -------------------------------------------------------------------

    def add_guild(
        self, name: str = "Workshop", *, locale: str = "en-US", guild_id: int | None = None
    ) -> FakeGuild:
        """A guild with an @everyone role, the bot as a member (with its managed role).

        ``guild_id`` fixes its id, for a bot whose settings name the server before it exists.
        """
        guild = FakeGuild(name=name, locale=locale, id=guild_id or new_snowflake())
        guild.roles.append(
            FakeRole(
                guild_id=guild.id, name="@everyone", permissions=perms.EVERYONE_DEFAULT, id=guild.id
            )
        )
        bot_role = FakeRole(
            guild_id=guild.id,
            name=self.bot_user.name,
            permissions=perms.BOT_DEFAULT,
            position=1,
            managed=True,
        )
        guild.roles.append(bot_role)
        guild.members.append(FakeMember(user=self.bot_user, guild=guild, roles=[bot_role]))
        self.world.guilds.append(guild)
        self.gateway.dispatch("GUILD_CREATE", guild.to_payload())
        return guild

    def add_role(
        self,
        guild: FakeGuild,
        name: str,
        *,
        permissions: int = 0,
        administrator: bool = False,
        manage_guild: bool = False,
    ) -> FakeRole:
        """A role; ``administrator``/``manage_guild`` add those bits to ``permissions``."""
        bits = permissions
        bits |= perms.ADMINISTRATOR if administrator else 0
        bits |= perms.MANAGE_GUILD if manage_guild else 0
        role = FakeRole(guild_id=guild.id, name=name, permissions=bits, position=len(guild.roles))
        guild.roles.append(role)
        self.gateway.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_payload()}
        )
        return role

    def add_text_channel(
        self, guild: FakeGuild, name: str, *, topic: str | None = None
    ) -> FakeChannel:
        channel = FakeChannel(
            guild_id=guild.id, name=name, topic=topic, position=len(guild.channels)
        )
        guild.channels.append(channel)
        self.world.channels[channel.id] = channel
        self.gateway.dispatch("CHANNEL_CREATE", channel.to_payload())
        return channel

    def add_member(
        self,
        guild: FakeGuild,
        name: str,
        *,
        roles: list[FakeRole] | tuple[FakeRole, ...] = (),
        owner: bool = False,
        nick: str | None = None,
    ) -> FakeMember:
        """A person in ``guild``; their permissions follow from ``roles`` (and ``owner``)."""
        user = FakeUser(name=name)
        self.world.users[user.id] = user
        member = FakeMember(user=user, guild=guild, roles=list(roles), nick=nick)
        guild.members.append(member)
        if owner:
            guild.owner_id = user.id
        payload = {**member.to_payload(), "guild_id": str(guild.id)}
        self.gateway.dispatch("GUILD_MEMBER_ADD", payload, intent=GUILD_MEMBERS_INTENT)
        return member

    def set_member_roles(self, member: FakeMember, roles: list[FakeRole]) -> None:
        member.roles = list(roles)
        payload = {**member.to_payload(), "guild_id": str(member.guild.id)}
        self.gateway.dispatch("GUILD_MEMBER_UPDATE", payload, intent=GUILD_MEMBERS_INTENT)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between ``user`` and the bot (made on first use)."""
        for channel in self.world.channels.values():
            if channel.type == DM_CHANNEL and channel.recipient is user:
                return channel
        channel = FakeChannel(
            guild_id=None, name=f"dm-{user.name}", type=DM_CHANNEL, recipient=user
        )
        self.world.channels[channel.id] = channel
        return channel

    def allow_command_for_role(
        self, guild: FakeGuild, role: FakeRole, command: str | None = None
    ) -> None:
        """Server Settings → Integrations → the bot: members with ``role`` may use
        ``command`` (every command of the bot when None), whatever its
        default_member_permissions. A command's own setting needs it synced first."""
        if command is None:
            target = self.application_id
        else:
            definition = self.world.commands.find(command, guild.id)
            if definition is None:
                raise InvalidInvocation(self._no_command_message(command, guild.id))
            target = int(definition["id"])
        self.world.command_overrides.setdefault((guild.id, target), set()).add(role.id)

    def register_commands(self, guild: FakeGuild | None, commands: list[dict[str, Any]]) -> None:
        """Commands the bot registered in ``guild`` (or globally) in an earlier run, as
        Discord keeps them until the bot overwrites them."""
        self.world.commands.overwrite(_guild_id(guild), copy.deepcopy(commands))

    def add_bot_message(
        self,
        channel: FakeChannel,
        content: str,
        *,
        components: list[dict[str, Any]] | None = None,
    ) -> FakeMessage:
        """A message the bot posted in an earlier run (e.g. with buttons that outlive it)."""
        body = {"content": content, "components": components or []}
        return self.world.create_channel_message(channel, body, {})

    def make_channel_unknown(self, channel: FakeChannel) -> None:
        """REST calls on ``channel`` now fail 404 Unknown Channel (code 10003)."""
        channel.fault = "unknown"

    def make_channel_forbidden(self, channel: FakeChannel) -> None:
        """REST calls on ``channel`` now fail 403 Missing Permissions (code 50013)."""
        channel.fault = "forbidden"

    def restore_channel(self, channel: FakeChannel) -> None:
        channel.fault = None

    def attachment(
        self, filename: str, data: bytes, *, content_type: str | None = None
    ) -> FakeFile:
        """A file a test user uploads as an attachment option."""
        return FakeFile(filename=filename, data=data, content_type=content_type)

    def host_attachment(
        self, filename: str, data: bytes, *, channel: FakeChannel | None = None
    ) -> str:
        """Serve bytes at a Discord-CDN-like URL on this fake and return the URL."""
        file = self.attachment(filename, data)
        self.world.host_file(file, channel.id if channel else 0)
        return file.url

    # -- reading what the bot did --------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST call the client made, in order."""
        return self.world.requests

    @property
    def unhandled_requests(self) -> list[RecordedRequest]:
        return self.world.unhandled

    def requests_to(self, method: str, path_contains: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    @property
    def connected(self) -> bool:
        """True while a client is identified on the gateway."""
        return bool(self.gateway.identified)

    def synced_commands(self, guild: FakeGuild | int | None = None) -> list[dict[str, Any]]:
        """The commands the bot registered globally (``None``) or for ``guild``."""
        return self.world.commands.list(_guild_id(guild))

    def synced_command(self, name: str, guild: FakeGuild | int | None = None) -> dict[str, Any]:
        command = self.world.commands.find(name, _guild_id(guild))
        if command is None:
            raise AssertionError(self._no_command_message(name, _guild_id(guild)))
        return command

    def sent_mentions(self) -> list[tuple[FakeMessage, SentMentions]]:
        """Every message create/edit with content the bot sent (channel messages, interaction
        replies, followups, edits) with the mentions Discord would resolve, oldest first."""
        return [
            (message, sent)
            for message in sorted(self.world.messages.values(), key=lambda m: m.id)
            if message.author is self.world.bot_user
            for sent in message.sent_mentions
        ]

    def channel_messages(self, channel: FakeChannel) -> list[FakeMessage]:
        """What everybody sees in ``channel`` (no ephemeral, deleted or loading messages)."""
        return self.world.channel_messages(channel)

    def get_message(self, message_id: int) -> FakeMessage:
        message = self.world.messages.get(message_id)
        if message is None:
            raise AssertionError(f"no message {message_id} was ever created")
        return message

    async def wait_for_channel_message(
        self,
        channel: FakeChannel,
        predicate: Callable[[FakeMessage], bool] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-wait timeout reads best in tests
    ) -> FakeMessage:
        """The first message in ``channel`` matching ``predicate`` (any message if None)."""

        def find() -> FakeMessage | None:
            return next(
                (m for m in self.channel_messages(channel) if predicate is None or predicate(m)),
                None,
            )

        def describe() -> str:
            seen = [f"{m.id}: {m.text!r}" for m in self.channel_messages(channel)]
            calls = [r for r in self.requests if str(channel.id) in r.path]
            return f"no matching message in #{channel.name}; it has {seen}; calls on it: {calls}"

        return await self.world.signal.wait_for(
            find, timeout=timeout or self.timeout, describe=describe
        )

    async def wait_until(
        self,
        check: Callable[[], Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-wait timeout reads best in tests
        what: str = "condition",
    ) -> Any:
        """Wait until ``check()`` is truthy (re-checked whenever the fake's state changes)."""
        return await self.world.signal.wait_for(
            check,
            timeout=timeout or self.timeout,
            describe=lambda: f"{what} never held; last requests: {self.requests[-5:]}",
        )

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway connection like a Discord outage; clients should RESUME."""
        await self.gateway.close_all(code=code, reason="fake Discord dropped the connection")

    @property
    def gateway_sessions(self) -> int:
        """How many gateway connections were ever identified or resumed (reconnect tests)."""
        return self.gateway.sessions_started

    def dispatch(self, event: str, data: Any) -> int:
        """Send a raw gateway DISPATCH to every identified client; returns how many got it."""
        return self.gateway.dispatch(event, data)

    # -- acting as users ----------------------------------------------------------------------

    async def invoke(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: FakeMember,
        channel: FakeChannel | None = None,
        locale: str = "en-US",
        in_dm: bool = False,
    ) -> FakeInteraction:
        """``user`` runs ``/command`` (``"group sub"`` for subcommands) with ``options``;
        with ``in_dm``, in their direct messages with the bot."""
        if in_dm:
            channel = self.dm_channel(user.user)
        definition, path = self._command_for(command, user, in_dm=in_dm)
        built = build_options(
            definition, path, options or {}, host_file=lambda f: self._host_upload(f, user, channel)
        )
        data = self._command_data(definition, built.options, built.resolved)
        return self._send(ix.APPLICATION_COMMAND, data, user, channel, locale)

    async def autocomplete(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        focused: str,
        user: FakeMember,
        channel: FakeChannel | None = None,
        locale: str = "en-US",
        timeout: float | None = None,  # noqa: ASYNC109 - a per-wait timeout reads best in tests
    ) -> list[dict[str, Any]]:
        """``user`` types into option ``focused``; returns the choices the bot offered."""
        definition, path = self._command_for(command, user)
        built = build_options(
            definition,
            path,
            options or {},
            focused=focused,
            host_file=lambda f: self._host_upload(f, user, channel),
        )
        data = self._command_data(definition, built.options, built.resolved)
        interaction = self._send(ix.AUTOCOMPLETE, data, user, channel, locale)
        await interaction.wait_for(lambda i: i.autocomplete_choices is not None, timeout=timeout)
        return interaction.autocomplete_choices or []

    async def press_button(
        self, message: FakeMessage, custom_id: str, *, user: FakeMember, locale: str = "en-US"
    ) -> FakeInteraction:
        """``user`` clicks the button ``custom_id`` on ``message``."""
        component = self._component_on(message, custom_id, BUTTON)
        data = {"custom_id": custom_id, "component_type": component["type"]}
        return self._send(
            ix.MESSAGE_COMPONENT, data, user, self._channel_of(message), locale, message
        )

    async def select(
        self,
        message: FakeMessage,
        custom_id: str,
        values: list[str],
        *,
        user: FakeMember,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """``user`` picks ``values`` in the string select ``custom_id`` on ``message``."""
        component = self._component_on(message, custom_id, STRING_SELECT)
        offered = [o["value"] for o in component.get("options", [])]
        missing = [v for v in values if v not in offered]
        if missing:
            raise InvalidInvocation(f"select {custom_id!r} offers {offered}, not {missing}")
        data = {"custom_id": custom_id, "component_type": STRING_SELECT, "values": list(values)}
        return self._send(
            ix.MESSAGE_COMPONENT, data, user, self._channel_of(message), locale, message
        )

    async def submit_modal(
        self,
        opened_by: FakeInteraction,
        values: Mapping[str, str],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-wait timeout reads best in tests
    ) -> FakeInteraction:
        """Fill in the modal the bot opened in reply to ``opened_by`` and submit it.

        ``values`` maps each text input's ``custom_id`` or its label to the typed text. The same
        person submits it from the same Discord client, so in the same language.
        """
        modal = await opened_by.wait_modal(timeout=timeout)
        submitted = self._modal_components(modal, values)
        data = {"custom_id": modal["custom_id"], "components": submitted}
        return self._send(
            ix.MODAL_SUBMIT,
            data,
            opened_by.user,
            opened_by.channel,
            opened_by.locale,
            opened_by.source_message,
        )

    # -- helpers ------------------------------------------------------------------------------

    def _no_command_message(self, name: str, guild_id: int | None) -> str:
        known = self.world.commands.names(guild_id)
        return (
            f"the bot has not synced a /{name} command (synced: {known}); did it call tree.sync()?"
        )

    def _command_for(
        self, command: str, user: FakeMember, *, in_dm: bool = False
    ) -> tuple[dict[str, Any], list[str]]:
        name, *path = command.split()
        scope = None if in_dm else user.guild.id  # a DM offers global commands only
        definition = self.world.commands.find(name, scope)
        if definition is None:
            raise InvalidInvocation(self._no_command_message(name, scope))
        if self.enforce_contexts:
            ix.check_contexts(definition, in_dm=in_dm)
        if self.enforce_default_permissions and not in_dm:
            allowed_roles = self.world.roles_allowed_to_use(definition, user.guild.id)
            ix.check_default_permissions(definition, user, allowed_roles)
        return definition, path

    @staticmethod
    def _command_data(
        definition: dict[str, Any], options: list[dict[str, Any]], resolved: dict[str, Any]
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": definition["id"],
            "name": definition["name"],
            "type": definition.get("type", 1),
            "options": options,
        }
        if resolved:
            data["resolved"] = resolved
        if definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        return data

    def _host_upload(self, file: FakeFile, user: FakeMember, channel: FakeChannel | None) -> None:
        target = channel or self._default_channel(user)
        self.world.host_file(file, target.id)

    def _default_channel(self, user: FakeMember) -> FakeChannel:
        channels = user.guild.text_channels
        if not channels:
            raise InvalidInvocation(f"guild {user.guild.name!r} has no text channel to act in")
        return channels[0]

    def _channel_of(self, message: FakeMessage) -> FakeChannel:
        return self.world.channels[message.channel_id]

    def _component_on(self, message: FakeMessage, custom_id: str, kind: int) -> dict[str, Any]:
        if message.deleted:
            raise InvalidInvocation(f"message {message.id} was deleted; nobody can click on it")
        component = message.component(custom_id)
        if component is None or component.get("type") != kind:
            present = [
                c.get("custom_id")
                for c in iter_components(message.components)
                if c.get("custom_id")
            ]
            raise InvalidInvocation(
                f"message {message.id} has no component {custom_id!r} of type {kind}; "
                f"it has {present}"
            )
        if component.get("disabled"):
            raise InvalidInvocation(
                f"component {custom_id!r} is disabled; Discord will not send clicks"
            )
        return component

    @staticmethod
    def _modal_components(modal: dict[str, Any], values: Mapping[str, str]) -> list[dict[str, Any]]:
        used: set[str] = set()

        def answer(text_input: dict[str, Any], label: str | None) -> dict[str, Any]:
            custom_id = text_input["custom_id"]
            key = custom_id if custom_id in values else (label if label in values else None)
            value = values[key] if key is not None else ""
            if key is not None:
                used.add(key)
            if text_input.get("required", True) and not value:
                raise InvalidInvocation(f"modal field {label or custom_id!r} is required")
            return {"type": TEXT_INPUT, "id": 0, "custom_id": custom_id, "value": value}

        submitted: list[dict[str, Any]] = []
        for top in modal["components"]:
            if top.get("type") == LABEL and top["component"].get("type") == TEXT_INPUT:
                child = answer(top["component"], top.get("label"))
                submitted.append({"type": LABEL, "id": 0, "component": child})
            elif top.get("type") == 1:
                row = [
                    answer(c, c.get("label"))
                    for c in top["components"]
                    if c.get("type") == TEXT_INPUT
                ]
                submitted.append({"type": 1, "id": 0, "components": row})
        unknown = sorted(set(values) - used)
        if unknown:
            raise InvalidInvocation(f"modal {modal.get('title')!r} has no field(s) {unknown}")
        return submitted

    def _send(
        self,
        kind: int,
        data: dict[str, Any],
        user: FakeMember,
        channel: FakeChannel | None,
        locale: str,
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        if not self.gateway.identified:
            raise AssertionError("no bot is connected to the fake gateway (use run_client)")
        interaction = FakeInteraction(
            type=kind,
            user=user,
            channel=channel or self._default_channel(user),
            data=data,
            signal=self.world.signal,
            default_timeout=self.timeout,
            source_message=message,
            locale=locale,
            created_at=asyncio.get_running_loop().time(),
        )
        self.world.interactions[interaction.id] = interaction
        payload = ix.interaction_payload(
            interaction,
            application_id=self.application_id,
            bot_member=self.world.bot_member(user.guild),
            locale=locale,
        )
        self.gateway.dispatch("INTERACTION_CREATE", payload)
        return interaction


def _guild_id(guild: FakeGuild | int | None) -> int | None:
    if guild is None or isinstance(guild, int):
        return guild
    return guild.id
