"""Connections are bounded: silent, slow and idle clients are closed and cannot lock robots out."""

from __future__ import annotations

import asyncio

from device_api.app import create_app
from tests.device_api.firmware import firmware_get, firmware_model_name

CAP = 4
PARTIAL_HEAD = b"GET /get_text?number=1 HTTP/1.1\r\nHost: kobo\r\n"  # never ends the head
KEEP_ALIVE_REQUEST = b"GET /get_text?number=2 HTTP/1.1\r\nHost: kobo\r\n\r\n"
LONG = 60.0  # a limit that must not be what closes the connection in that test


async def _open(api, first_bytes: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(api.host, api.port)
    if first_bytes:
        writer.write(first_bytes)
        await writer.drain()
    return reader, writer


async def _closed_by_server(reader: asyncio.StreamReader, within: float = 5.0) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), timeout=within) == b""
    except TimeoutError:
        return False


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return head, await reader.readexactly(length)


def _close_all(connections) -> None:
    for _, writer in connections:
        writer.close()


async def test_junk_connections_cannot_lock_a_robot_out(make_settings, db, serve):
    settings = make_settings(
        device_api_max_connections=CAP,
        device_api_header_timeout_seconds=LONG,
        device_api_keepalive_seconds=LONG,
    )
    api = await serve(create_app(settings, db=db))
    # Three times the cap: half say nothing, half trickle a request head that never ends.
    junk = [await _open(api, PARTIAL_HEAD if i % 2 else b"") for i in range(3 * CAP)]
    try:
        status, _, body = await asyncio.wait_for(
            firmware_get(api.host, api.port, "/get_text?number=4"), timeout=5
        )
        assert status == 200
        assert firmware_model_name(body) == settings.default_model

        reads = [asyncio.create_task(_closed_by_server(reader, within=2)) for reader, _ in junk]
        closed = [await read for read in reads]
    finally:
        _close_all(junk)
    # Each connection past the cap closed the one waiting longest; the robot's pushed out one
    # more. Those left are the newest junk, within the cap.
    assert closed == [True] * (2 * CAP + 1) + [False] * (CAP - 1)


async def test_silent_and_slow_connections_are_closed_after_the_header_timeout(
    make_settings, db, serve
):
    settings = make_settings(
        device_api_header_timeout_seconds=0.3, device_api_keepalive_seconds=LONG
    )
    api = await serve(create_app(settings, db=db))
    silent = await _open(api)
    slow = await _open(api, PARTIAL_HEAD)
    try:
        assert await _closed_by_server(silent[0])
        assert await _closed_by_server(slow[0])
    finally:
        _close_all([silent, slow])
    status, _, _ = await firmware_get(api.host, api.port, "/get_text?number=1")
    assert status == 200


async def test_the_header_timeout_does_not_cut_a_kept_alive_connection(make_settings, db, serve):
    settings = make_settings(
        device_api_header_timeout_seconds=0.2, device_api_keepalive_seconds=LONG
    )
    api = await serve(create_app(settings, db=db))
    reader, writer = await _open(api, KEEP_ALIVE_REQUEST)
    try:
        head, _ = await _read_response(reader)
        assert head.startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.5)  # past the header timeout, within the keep-alive one
        writer.write(KEEP_ALIVE_REQUEST)
        head, body = await _read_response(reader)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert firmware_model_name(body) == settings.default_model


async def test_idle_kept_alive_connection_is_closed_after_the_keepalive_timeout(
    make_settings, db, serve
):
    settings = make_settings(
        device_api_header_timeout_seconds=LONG, device_api_keepalive_seconds=0.3
    )
    api = await serve(create_app(settings, db=db))
    reader, writer = await _open(api, KEEP_ALIVE_REQUEST)
    try:
        head, _ = await _read_response(reader)
        assert b"connection: close" not in head.lower()  # kept alive...
        assert await _closed_by_server(reader)  # ...for a while
    finally:
        writer.close()
