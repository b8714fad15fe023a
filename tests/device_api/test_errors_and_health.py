"""Every answer is JSON, errors included; ``/healthz`` tells whether the database answers."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.log import access_logger

from device_api.app import create_app
from storage.assignments import AssignmentRepository
from storage.database import Database
from tests.device_api.conftest import STAFF
from tests.device_api.firmware import firmware_model_name, raw_exchange


@pytest.mark.parametrize("accept", ["*/*", "text/html"])
@pytest.mark.parametrize("path", ["/", "/get_text/extra", "/index.html", "/api/v2/stacks"])
async def test_unknown_path_is_a_404_json(make_settings, db, serve, http, path, accept):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(api.url + path, headers={"Accept": accept}) as response:
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == {"error": f"no such endpoint: {path}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/get_text?number=1"),
        ("PUT", "/api/v1/stacks/1"),
        ("DELETE", "/api/v1/stacks"),
        ("POST", "/healthz"),
    ],
)
async def test_wrong_method_is_a_405_json_naming_the_allowed_ones(
    make_settings, db, serve, http, method, path
):
    api = await serve(create_app(make_settings(), db=db))

    async with http.request(method, api.url + path, headers={"Accept": "text/html"}) as response:
        assert response.status == 405
        assert response.headers["Content-Type"] == "application/json"
        assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD"}
        error = (await response.json())["error"]
    assert error == f"method {method} is not allowed on {path.split('?')[0]}; use GET, HEAD"


async def test_health_is_ok_while_the_database_answers(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_health_is_503_when_the_database_is_gone(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(), db=db))
    await db.close()

    async with http.get(f"{api.url}/healthz") as response:
        assert response.status == 503
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == {
            "status": "unavailable",
            "error": "the robots' data cannot be read from the database",
        }


async def test_unexpected_error_is_a_500_json_without_a_traceback(
    make_settings, db, serve, http, caplog
):
    api = await serve(create_app(make_settings(), db=db))
    await db.close()  # the dashboard's query now fails inside the repository

    with caplog.at_level(logging.ERROR, logger="device_api.errors"):
        async with http.get(
            f"{api.url}/api/v1/stacks", headers={"Accept": "text/html"}
        ) as response:
            assert response.status == 500
            assert response.headers["Content-Type"] == "application/json"
            text = await response.text()

    assert text == '{"error":"internal server error; the server log has the details"}'
    [record] = [r for r in caplog.records if r.name == "device_api.errors"]
    assert record.getMessage() == "unexpected error answering GET /api/v1/stacks"
    assert record.exc_info is not None  # the traceback is in the log, not in the answer
    caplog.clear()  # expected: the root conftest fails tests that leave ERROR records


async def test_robots_keep_their_model_while_the_database_is_gone(
    make_settings, db, repo, serve, http, caplog
):
    await repo.assign(3, "ft:gpt-4o-mini:acme:three:A3", **STAFF)
    # Check for outside writes on every request, so every request meets the dead database.
    api = await serve(create_app(make_settings(), db=db, external_write_check_seconds=0))
    await db.close()

    for number, model in ((3, "ft:gpt-4o-mini:acme:three:A3"), (9, make_settings().default_model)):
        async with http.get(f"{api.url}/get_text?number={number}") as response:
            assert response.status == 200
            assert firmware_model_name(await response.read()) == model
    assert "could not reload robot assignments" in caplog.text


# --- what aiohttp answers by itself, before any route --------------------------------------

HUGE_HEADER = b"X-Junk: " + b"a" * 9000 + b"\r\n"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"FOO / HTTP/1.1\r\nHost: kobo\r\n\r\n", "Invalid method encountered"),
        (b"GET /\x80 HTTP/1.1\r\nHost: kobo\r\n\r\n", "Invalid char in url path"),
        (b"GET / HTTP/1.1\r\nHost: kobo\r\n" + HUGE_HEADER + b"\r\n", "Got more than 8190 bytes"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "Duplicate 'Host' header found"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32, "Received HTTPS traffic"),
    ],
)
async def test_unparsable_request_gets_a_json_400_and_one_short_log_line(
    make_settings, db, serve, caplog, raw, reason
):
    # The production access log is on: together with ours, still one line per bad request.
    api = await serve(create_app(make_settings(), db=db), access_log=access_logger)

    with caplog.at_level(logging.DEBUG):
        status, headers, body = await raw_exchange(api.host, api.port, raw)

    assert status == 400
    assert headers["content-type"] == "application/json"
    assert "server" not in headers
    error = json.loads(body)["error"]
    assert error.startswith(f"malformed HTTP request: {reason}")
    assert len(error) < 150 and "\n" not in error
    records = [r for r in caplog.records if not r.name.startswith(("aiosqlite", "asyncio"))]
    assert not [r for r in records if r.exc_info], "no traceback for a bad request"
    [line] = [r.getMessage() for r in records if r.levelno >= logging.INFO]
    assert " 400 " in line and len(line) < 200


@pytest.mark.parametrize(
    "target", ["/%0A", "/get_text%0A", "/api/v1/%0A", "/api/v1/stacks%0A/1", "*"]
)
async def test_odd_request_targets_get_a_json_404(make_settings, db, serve, target):
    api = await serve(create_app(make_settings(), db=db))
    raw = f"OPTIONS {target} HTTP/1.1\r\nHost: kobo\r\nConnection: close\r\n\r\n".encode()

    status, headers, body = await raw_exchange(api.host, api.port, raw)

    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"].startswith("no such endpoint: ")


async def test_unsupported_expect_header_gets_a_json_417(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/healthz", headers={"Expect": "teapot"}) as response:
        assert response.status == 417
        assert response.headers["Content-Type"] == "application/json"
        assert "Expect" in (await response.json())["error"]
    async with http.get(
        f"{api.url}/get_text?number=1", headers={"Expect": "100-continue"}
    ) as response:
        assert response.status == 200


async def test_a_long_path_and_user_agent_make_one_short_access_log_line(
    make_settings, db, serve, caplog
):
    api = await serve(create_app(make_settings(), db=db), access_log=access_logger)
    raw = (
        f"GET /get_text?number={'0' * 4000}1 HTTP/1.1\r\nHost: kobo\r\n"
        f"User-Agent: caf\xe9 {'x' * 4000}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")

    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        status, _, _ = await raw_exchange(api.host, api.port, raw)

    assert status == 400
    [line] = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(line) < 300
    assert line.isascii() and '"GET /get_text?number=000' in line


@pytest.mark.parametrize(
    "request_line",
    [
        "GET /get_text?number=1",  # 200
        "GET /get_text?number=x",  # 400
        "GET /nope",  # 404
        "POST /healthz",  # 405
        "GET /healthz",  # 200 from a json_errors-wrapped view
    ],
)
async def test_no_answer_names_the_server_software(make_settings, db, serve, request_line):
    api = await serve(create_app(make_settings(), db=db))
    raw = f"{request_line} HTTP/1.1\r\nHost: kobo\r\nConnection: close\r\n\r\n".encode()

    _, headers, _ = await raw_exchange(api.host, api.port, raw)

    assert "server" not in headers
    assert headers["content-type"] == "application/json"


async def test_not_modified_answer_has_no_server_header_either(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/api/v1/stacks", headers={"If-None-Match": "*"}) as response:
        assert response.status == 304
        assert "Server" not in response.headers


async def test_health_is_503_when_the_robot_tables_are_damaged(make_settings, db_path, serve, http):
    async with _database(db_path) as writer:
        for stack_id in range(1, 200):
            await AssignmentRepository(writer).assign(stack_id, f"ft:m:s{stack_id}:A1", **STAFF)
    _damage_table(db_path, "robot_assignments")

    # The file still opens and answers "SELECT 1"; the app starts and serves the default model.
    api = await serve(create_app(make_settings()))
    async with http.get(f"{api.url}/get_text?number=3") as response:
        assert response.status == 200
    async with http.get(f"{api.url}/healthz") as response:
        assert response.status == 503
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == {
            "status": "unavailable",
            "error": "the robots' data cannot be read from the database",
        }


@contextlib.asynccontextmanager
async def _database(path: Path) -> AsyncIterator[Database]:
    database = await Database.open(path)
    try:
        yield database
    finally:
        await database.close()


def _damage_table(path: Path, table: str) -> None:
    """Overwrite the pages of ``table``'s b-tree below its root with garbage."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            row[0] for row in conn.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))
        ]
    with path.open("r+b") as file:
        for page in pages:
            file.seek((page - 1) * page_size)
            file.write(b"\xa5" * page_size)
