"""``/api/v1/stacks``: JSON for dashboards, with ETags and an optional bearer token."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from device_api.app import create_app
from storage.assignments import AssignmentRepository
from storage.last_seen import LastSeenRecorder
from tests.device_api.conftest import DEFAULT_MODEL, STAFF

TOKEN = "workshop-dashboard-token-0123456789"


async def test_stacks_lists_assigned_and_seen_robots(make_settings, db, repo, serve, http):
    await repo.assign(1, "ft:gpt-4o-mini:acme:one:A1", **STAFF)
    await repo.assign(3, "ft:gpt-4o-mini:acme:three:A3", by_id="1002", by_name="Kenji")
    recorder = LastSeenRecorder(db)
    api = await serve(create_app(make_settings(), db=db, recorder=recorder))
    for number in (3, 5):
        async with http.get(f"{api.url}/get_text?number={number}") as response:
            assert response.status == 200
    await recorder.flush()

    async with http.get(f"{api.url}/api/v1/stacks") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        body = await response.json()

    assert body["default_model"] == DEFAULT_MODEL
    one, three, five = body["stacks"]
    assert one == {
        "stack_id": 1,
        "model": "ft:gpt-4o-mini:acme:one:A1",
        "assigned": True,
        "assigned_at": one["assigned_at"],
        "assigned_by": "Aiko",
        "last_seen_at": None,
        "last_seen_address": None,
    }
    assert datetime.fromisoformat(one["assigned_at"]).tzinfo is not None
    assert three["model"] == "ft:gpt-4o-mini:acme:three:A3"
    assert three["assigned_by"] == "Kenji"
    assert three["last_seen_address"] == "127.0.0.1"
    seen = datetime.fromisoformat(three["last_seen_at"])
    assert abs((datetime.now(UTC) - seen).total_seconds()) < 60
    assert five["stack_id"] == 5
    assert five["assigned"] is False
    assert five["model"] == DEFAULT_MODEL
    assert five["assigned_at"] is None and five["assigned_by"] is None
    assert five["last_seen_address"] == "127.0.0.1"


async def test_one_stack_shows_its_assignment(make_settings, db, repo, serve, http):
    await repo.assign(4, "ft:gpt-4o-mini:acme:four:A4", **STAFF)
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/api/v1/stacks/4") as response:
        assert response.status == 200
        body = await response.json()

    assert body["stack_id"] == 4
    assert body["model"] == "ft:gpt-4o-mini:acme:four:A4"
    assert body["assigned"] is True
    assert body["assigned_by"] == "Aiko"


async def test_unknown_stack_shows_the_default_model(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/api/v1/stacks/99") as response:
        assert response.status == 200
        body = await response.json()

    assert body == {
        "stack_id": 99,
        "model": DEFAULT_MODEL,
        "assigned": False,
        "assigned_at": None,
        "assigned_by": None,
        "last_seen_at": None,
        "last_seen_address": None,
    }


@pytest.mark.parametrize(
    ("stack", "complaint"),
    [
        ("abc", "stack id must be a positive whole number, got 'abc'"),
        ("0", "stack id must be at least 1, got '0'"),
        ("-2", "stack id must be a positive whole number, got '-2'"),
        ("99999999999", "stack id is too large (at most 2147483647)"),
    ],
)
async def test_bad_stack_id_is_a_400(make_settings, db, serve, http, stack, complaint):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/api/v1/stacks/{stack}") as response:
        assert response.status == 400
        assert response.headers["Content-Type"] == "application/json"
        assert (await response.json()) == {"error": complaint}


async def test_dashboard_reads_do_not_count_as_the_robot_booting(make_settings, db, serve, http):
    recorder = LastSeenRecorder(db)
    api = await serve(create_app(make_settings(), db=db, recorder=recorder))

    async with http.get(f"{api.url}/api/v1/stacks/8") as response:
        assert response.status == 200
    async with http.get(f"{api.url}/api/v1/stacks") as response:
        assert response.status == 200
    await api.stop()

    assert recorder.pending == 0
    assert await AssignmentRepository(db).overview() == []


@pytest.mark.parametrize("path", ["/api/v1/stacks", "/api/v1/stacks/4"])
async def test_etag_lets_a_dashboard_skip_unchanged_bodies(
    make_settings, db, repo, serve, http, path
):
    await repo.assign(4, "ft:gpt-4o-mini:acme:four:A4", **STAFF)
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(api.url + path) as response:
        etag = response.headers["ETag"]
        first_body = await response.read()
    assert etag.startswith('"') and etag.endswith('"')  # strong: no W/ prefix

    async with http.get(api.url + path, headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert response.headers["ETag"] == etag
        assert await response.read() == b""
    for matching in (f"W/{etag}", f'"nope", {etag}', "*"):
        async with http.get(api.url + path, headers={"If-None-Match": matching}) as response:
            assert response.status == 304, matching
    async with http.get(api.url + path, headers={"If-None-Match": '"other"'}) as response:
        assert response.status == 200
        assert await response.read() == first_body

    await repo.assign(4, "ft:gpt-4o-mini:acme:four:B4", **STAFF)
    async with http.get(api.url + path, headers={"If-None-Match": etag}) as response:
        assert response.status == 200
        assert response.headers["ETag"] != etag
        assert "B4" in (await response.text())


async def test_same_content_gives_the_same_etag(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(), db=db))
    etags = set()
    for _ in range(3):
        async with http.get(f"{api.url}/api/v1/stacks/6") as response:
            etags.add(response.headers["ETag"])
    assert len(etags) == 1


@pytest.mark.parametrize(
    ("authorization", "invalid"),
    [
        (None, False),
        ("", False),
        ("Bearer", False),
        (f"Basic {TOKEN}", False),
        ("Bearer wrong-token", True),
        (f"Bearer {TOKEN}x", True),
        (f"Bearer {TOKEN[:-1]}", True),
    ],
)
async def test_api_needs_the_bearer_token_when_one_is_set(
    make_settings, db, serve, http, authorization, invalid
):
    api = await serve(create_app(make_settings(device_api_token=TOKEN), db=db))
    headers = {} if authorization is None else {"Authorization": authorization}

    for path in ("/api/v1/stacks", "/api/v1/stacks/1", "/api/v1/no-such-thing"):
        async with http.get(api.url + path, headers=headers) as response:
            assert response.status == 401, path
            assert response.headers["Content-Type"] == "application/json"
            challenge = response.headers["WWW-Authenticate"]
            body = await response.json()
        assert challenge.startswith("Bearer ")
        assert ('error="invalid_token"' in challenge) is invalid
        assert "error" in body
        assert TOKEN not in await response.text()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_right_bearer_token_is_accepted(make_settings, db, serve, http, scheme):
    api = await serve(create_app(make_settings(device_api_token=TOKEN), db=db))

    async with http.get(
        f"{api.url}/api/v1/stacks/1", headers={"Authorization": f"{scheme} {TOKEN}"}
    ) as response:
        assert response.status == 200
        assert (await response.json())["model"] == DEFAULT_MODEL


async def test_api_is_open_when_no_token_is_set(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(device_api_token="   "), db=db))

    async with http.get(f"{api.url}/api/v1/stacks") as response:
        assert response.status == 200


async def test_wrong_token_is_logged_without_the_token(make_settings, db, serve, http, caplog):
    api = await serve(create_app(make_settings(device_api_token=TOKEN), db=db))

    async with http.get(
        f"{api.url}/api/v1/stacks", headers={"Authorization": "Bearer guessed-secret"}
    ) as response:
        assert response.status == 401

    assert "rejected a bearer token" in caplog.text
    assert "guessed-secret" not in caplog.text
    assert TOKEN not in caplog.text
