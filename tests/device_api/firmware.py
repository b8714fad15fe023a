"""What the Stack-chan firmware in the field does with our answer (contract copied here).

Contract: ``GET /get_text?number=N`` over plain HTTP/1.1 from the ESP32 ``HTTPClient``, no
headers of ours; the status code is ignored; the body is not parsed as JSON: the firmware finds
the first ``":"``, takes the text after it up to the next ``"``, and uses that verbatim as the
model name.
"""

from __future__ import annotations

import asyncio

FIRMWARE_REQUEST = (
    "GET {path} HTTP/1.1\r\n"
    "Host: {host}:{port}\r\n"
    "User-Agent: ESP32HTTPClient\r\n"
    "Connection: close\r\n"
    "Accept-Encoding: identity;q=1,chunked;q=0.1,*;q=0\r\n"
    "\r\n"
)


def firmware_model_name(body: bytes) -> str:
    """The firmware's parse: text between the first ``":"`` and the next ``"``."""
    text = body.decode("latin-1")
    start = text.index('":"') + 3
    return text[start : text.index('"', start)]


async def firmware_get(host: str, port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """Send the firmware's exact request on a raw socket; return status, headers and raw body."""
    request = FIRMWARE_REQUEST.format(path=path, host=host, port=port).encode("ascii")
    return await raw_exchange(host, port, request)


async def raw_exchange(host: str, port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is, read until the server closes; return status, headers and body."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body
