"""The gateway websocket (JSON encoding, no compression: discord.py accepts text frames).

Implements HELLO -> IDENTIFY -> READY + one GUILD_CREATE per guild, HEARTBEAT/ACK,
RESUME -> RESUMED (or INVALID_SESSION for an unknown session), REQUEST_GUILD_MEMBERS ->
one GUILD_MEMBERS_CHUNK, a wrong token closing with 4004, and DISPATCH of any event the
fake or a test sends (INTERACTION_CREATE, CHANNEL_CREATE, ...). Not implemented:
zlib/zstd compression, ETF encoding, sharding, presence/voice updates, rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.world import DiscordWorld

DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
RESUME = 6
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

GUILD_MEMBERS_INTENT = 1 << 1
HEARTBEAT_INTERVAL_MS = 41_250
AUTHENTICATION_FAILED = 4004


@dataclass(eq=False)
class GatewaySession:
    """One connected client; frames go out through a queue so order is preserved."""

    ws: web.WebSocketResponse
    outbox: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    session_id: str = field(default_factory=lambda: secrets.token_hex(16))
    sequence: int = 0
    intents: int = 0
    identified: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)

    def send(self, op: int, data: Any) -> None:
        self.outbox.put_nowait({"op": op, "d": data, "s": None, "t": None})

    def dispatch(self, event: str, data: Any) -> None:
        self.sequence += 1
        self.outbox.put_nowait({"op": DISPATCH, "d": data, "s": self.sequence, "t": event})


class Gateway:
    """Accepts gateway websockets and broadcasts dispatches to identified sessions."""

    def __init__(self, world: DiscordWorld) -> None:
        self.world = world
        self.sessions: list[GatewaySession] = []
        self._ended: dict[str, GatewaySession] = {}  # kept so a client can RESUME them
        self.sessions_started = 0  # IDENTIFY or RESUME successes, for reconnect tests
        self.resumes = 0

    @property
    def url(self) -> str:
        return self.world.base_url.replace("http://", "ws://", 1) + "/gateway"

    @property
    def identified(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.identified]

    def dispatch(self, event: str, data: Any, *, intent: int | None = None) -> int:
        """Send ``event`` to every identified client (that asked for ``intent``, if given)."""
        targets = [s for s in self.identified if intent is None or s.intents & intent]
        for session in targets:
            session.dispatch(event, data)
        return len(targets)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = GatewaySession(ws)
        self.sessions.append(session)
        writer = asyncio.create_task(self._write(session))
        session.send(HELLO, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS})
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                session.received.append(_redacted(payload))
                if not await self._on_payload(session, payload):
                    break
        finally:
            self.sessions.remove(session)
            self._ended[session.session_id] = session
            session.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await writer
            self.world.signal.notify()
        return ws

    async def close_all(
        self, code: int = 1001, reason: str = "fake Discord is shutting down"
    ) -> None:
        for session in list(self.sessions):
            await session.ws.close(code=code, message=reason.encode())

    async def _write(self, session: GatewaySession) -> None:
        while (frame := await session.outbox.get()) is not None:
            if session.ws.closed:
                return
            await session.ws.send_str(json.dumps(frame))

    async def _on_payload(self, session: GatewaySession, payload: dict[str, Any]) -> bool:
        """React to one client frame; False means the connection was closed."""
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            session.send(HEARTBEAT_ACK, None)
        elif op == IDENTIFY:
            if data.get("token") != self.world.bot_token:
                await session.ws.close(
                    code=AUTHENTICATION_FAILED, message=b"Authentication failed."
                )
                return False
            session.intents = int(data.get("intents") or 0)
            self._identify(session)
        elif op == RESUME:
            previous = self._ended.pop(str(data.get("session_id")), None)
            if previous is None or data.get("token") != self.world.bot_token:
                session.send(INVALID_SESSION, False)
            else:
                session.session_id = previous.session_id
                session.sequence = previous.sequence
                session.intents = previous.intents
                session.identified = True
                self.sessions_started += 1
                self.resumes += 1
                session.dispatch("RESUMED", {})
        elif op == REQUEST_GUILD_MEMBERS:
            self._send_member_chunk(session, data)
        self.world.signal.notify()
        return True

    def _identify(self, session: GatewaySession) -> None:
        world = self.world
        session.dispatch(
            "READY",
            {
                "v": 10,
                "user": {**world.bot_user.to_payload(), "verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in world.guilds],
                "session_id": session.session_id,
                "resume_gateway_url": self.url,
                "application": {"id": str(world.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild in world.guilds:
            session.dispatch("GUILD_CREATE", guild.to_payload())
        session.identified = True
        self.sessions_started += 1

    def _send_member_chunk(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = next((g for g in self.world.guilds if str(g.id) == str(data.get("guild_id"))), None)
        if guild is None:
            return
        wanted = {str(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            m
            for m in guild.members
            if (not wanted or str(m.id) in wanted) and m.name.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)


def _redacted(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of a client frame without its token, so recordings never hold the secret."""
    data = payload.get("d")
    if isinstance(data, dict) and "token" in data:
        return {**payload, "d": {**data, "token": "<redacted>"}}
    return payload
