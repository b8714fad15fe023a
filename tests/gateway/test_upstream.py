"""The gateway's client for OpenAI-compatible servers, against a server on a real socket that
behaves like llama.cpp's: it closes a kept-alive connection when it likes, even just as the next
request arrives on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from gateway.upstream import Upstream
from i18n import msg

ANSWER = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "はい"}}]}


class ClosesKeptAliveConnections:
    """Answers the first request of each connection (keep-alive), and closes the connection
    without a word when a second request comes on it."""

    def __init__(self) -> None:
        self.answered = 0
        self.dropped = 0
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for request_on_connection in (1, 2):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                if request_on_connection == 2:
                    self.dropped += 1
                    return
                body = json.dumps(ANSWER).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                self.answered += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def engine() -> AsyncIterator[tuple[ClosesKeptAliveConnections, str]]:
    behaviour = ClosesKeptAliveConnections()
    server = await asyncio.start_server(behaviour.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield behaviour, f"http://127.0.0.1:{port}/v1"


async def test_a_connection_the_engine_closed_is_not_the_robots_problem(engine):
    behaviour, url = engine
    upstream = Upstream(msg("gateway.upstream.local"), url, None, timeout_seconds=5, connections=4)
    try:
        answers = [await upstream.complete({"messages": []}) for _ in range(3)]
    finally:
        await upstream.close()

    assert answers == [ANSWER] * 3
    # The 2nd and 3rd chats were first sent on a connection the engine then closed.
    assert behaviour.dropped == 2
    assert behaviour.answered == 3
