"""Every answer is JSON, errors included; ``/healthz`` tells whether the database answers."""

from __future__ import annotations

import logging

import pytest

from device_api.app import create_app
from tests.device_api.conftest import STAFF
from tests.device_api.firmware import firmware_model_name


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
            "error": "the database does not answer",
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
