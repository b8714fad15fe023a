"""HTTP/1.1 clients on raw sockets that send requests the way real clients on real networks do.

Loopback clients (aiohttp, the ``openai`` SDK) hand the server a whole request in one piece, so a
server that reads "what has arrived" instead of "the whole body" passes every test there and
fails in the field: a robot on Wi-Fi sends a 4.7 KB request in 1,436-byte TCP segments a fraction
of a millisecond apart, a phone on a bad link pauses for seconds, a client that streams uses
``Transfer-Encoding: chunked``, and some hang up half-way. These senders do exactly that:

* :func:`send_in_segments`: the head, then the body ``segment`` bytes at a time (``TCP_NODELAY``
  set, each write drained, ``pause`` seconds between writes);
* :func:`send_chunked`: the body as ``Transfer-Encoding: chunked``, one chunk per piece given,
  each chunk's frame itself written in pieces;
* :func:`hang_up_before_body`: the head and maybe part of the body, then the connection closed.

The two senders return what the server answered, read back in full (:class:`RawResponse`;
``Content-Length``, chunked or close-delimited answers). A server may answer before the body is
all sent (a 413, a 401): the response is read while sending, and sending stops quietly when the
server stops reading. Nothing here depends on the machine's speed: pauses only make pieces
likelier to arrive apart, and every wait has a generous ceiling (``TIMEOUT``) that only guards
against a hang. :func:`request_head` builds a head (``Content-Length`` from the body).

For example::

    response = await send_in_segments(host, port, request_head("POST", "/v1/x", body), body)
    assert response.status == 200 and response.json()["id"]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TIMEOUT = 60.0  # seconds: a hang guard, never what a test measures
ROBOT_SEGMENT = 1436  # bytes: a TCP segment from an ESP32 on Wi-Fi
ROBOT_PAUSE = 0.0002  # seconds between its segments


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def request_head(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    chunked: bool = False,
) -> bytes:
    """A request head; ``Content-Length`` is ``len(body)`` unless ``chunked`` or given."""
    lines = [f"{method} {path} HTTP/1.1", "Host: kobo"]
    given = {name.lower() for name in headers or {}}
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif body is not None and "content-length" not in given:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


async def send_in_segments(
    host: str,
    port: int,
    head: bytes,
    body: bytes,
    *,
    segment: int = ROBOT_SEGMENT,
    pause: float = ROBOT_PAUSE,
) -> RawResponse:
    """Send ``head`` in one write, then ``body`` in ``segment``-byte writes ``pause`` apart."""
    pieces = [body[i : i + segment] for i in range(0, len(body), segment)]
    return await _exchange(host, port, [head, *pieces], pause)


async def send_chunked(
    host: str,
    port: int,
    head: bytes,
    pieces: Iterable[bytes],
    *,
    pause: float = ROBOT_PAUSE,
) -> RawResponse:
    """Send ``head`` (made with ``chunked=True``), then one chunk per piece, each chunk written
    as its size line, then its data, then its CRLF (three writes), and the last chunk."""

    def frames() -> Iterable[bytes]:
        yield head
        for piece in pieces:
            if piece:
                yield f"{len(piece):x}\r\n".encode("ascii")
                yield piece
                yield b"\r\n"
        yield b"0\r\n\r\n"

    return await _exchange(host, port, frames(), pause)


async def hang_up_before_body(
    host: str, port: int, head: bytes, partial_body: bytes = b"", *, linger: float = 0.2
) -> None:
    """Send ``head`` and ``partial_body``, wait ``linger`` seconds (the server starts on the
    request meanwhile), then reset the connection, as a robot does when its Wi-Fi drops."""
    _, writer = await _connect(host, port)
    try:
        writer.write(head)
        await writer.drain()
        if partial_body:
            await asyncio.sleep(ROBOT_PAUSE)
            writer.write(partial_body)
            await writer.drain()
        await asyncio.sleep(linger)
    finally:
        writer.transport.abort()


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one write, one segment
    return reader, writer


async def _exchange(host: str, port: int, writes: Iterable[bytes], pause: float) -> RawResponse:
    reader, writer = await _connect(host, port)
    sending = asyncio.create_task(_write_all(writer, writes, pause))
    try:
        response = await asyncio.wait_for(read_response(reader), TIMEOUT)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sending
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return response


async def _write_all(writer: asyncio.StreamWriter, writes: Iterable[bytes], pause: float) -> None:
    try:
        for index, data in enumerate(writes):
            if index and pause:
                await asyncio.sleep(pause)
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the server answered early and closed: the answer is what counts


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    """Read one whole response: its head, then its body as its headers frame it."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    response = RawResponse(int(status_line.split()[1]), headers)
    if "content-length" in headers:
        response.body = await reader.readexactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        response.body = await _read_chunked(reader)
    else:
        response.body = await reader.read()
    return response


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")  # no trailers are expected: the final CRLF
    return bytes(body)
