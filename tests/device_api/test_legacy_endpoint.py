"""``GET /get_text?number=N``: what the robots in the field ask at boot."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import aiohttp
import pytest
from multidict import MultiDict

from device_api.app import create_app
from device_api.views import firmware_number
from robots.stack_ids import InvalidStackId, parse_stack_id
from storage.assignments import AssignmentRepository
from storage.database import Database
from tests.device_api.conftest import DEFAULT_MODEL, STAFF
from tests.device_api.firmware import firmware_get, firmware_model_name

FINE_TUNED = "ft:gpt-4o-mini-2024-07-18:acme:stack4:AbC123"


async def test_firmware_reads_the_assigned_model_from_a_byte_exact_body(
    make_settings, db: Database, repo: AssignmentRepository, serve
):
    await repo.assign(4, FINE_TUNED, **STAFF)
    api = await serve(create_app(make_settings(), db=db))

    status, headers, body = await firmware_get(api.host, api.port, "/get_text?number=4")

    assert status == 200
    assert body == b'{"message":"ft:gpt-4o-mini-2024-07-18:acme:stack4:AbC123"}'
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(body))
    assert "transfer-encoding" not in headers
    assert firmware_model_name(body) == FINE_TUNED


async def test_unassigned_robot_gets_the_default_model(make_settings, db, serve):
    api = await serve(create_app(make_settings(), db=db))

    status, _, body = await firmware_get(api.host, api.port, "/get_text?number=17")

    assert status == 200
    assert body == b'{"message":"' + DEFAULT_MODEL.encode() + b'"}'
    assert firmware_model_name(body) == DEFAULT_MODEL


async def test_assignment_through_the_repository_shows_on_the_next_request(
    make_settings, db, repo, serve, http: aiohttp.ClientSession
):
    api = await serve(create_app(make_settings(), db=db))
    url = f"{api.url}/get_text?number=2"

    async def model() -> str:
        async with http.get(url) as response:
            return firmware_model_name(await response.read())

    assert await model() == DEFAULT_MODEL
    await repo.assign(2, "ft:gpt-4o-mini:acme:first:X1", **STAFF)
    assert await model() == "ft:gpt-4o-mini:acme:first:X1"
    await repo.assign(2, "ft:gpt-4o-mini:acme:second:X2", **STAFF)
    assert await model() == "ft:gpt-4o-mini:acme:second:X2"
    await repo.unassign(2, **STAFF)
    assert await model() == DEFAULT_MODEL


async def test_leading_zeros_name_the_same_robot(make_settings, db, repo, serve, http):
    await repo.assign(7, "ft:gpt-4o-mini:acme:seven:S7", **STAFF)
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/get_text", params={"number": "007"}) as response:
        assert response.status == 200
        assert firmware_model_name(await response.read()) == "ft:gpt-4o-mini:acme:seven:S7"


@pytest.mark.parametrize(
    "query", ["number=7", "number=%37", "lang=ja&number=7", "number=7&number=8"]
)
async def test_number_is_read_from_any_query_shape(make_settings, db, repo, serve, http, query):
    await repo.assign(7, "ft:gpt-4o-mini:acme:seven:S7", **STAFF)
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/get_text?{query}") as response:
        assert response.status == 200
        assert firmware_model_name(await response.read()) == "ft:gpt-4o-mini:acme:seven:S7"


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("", "number is missing"),
        ("?number=", "number is empty"),
        ("?number=abc", "number must be a positive whole number, got 'abc'"),
        ("?number=-3", "number must be a positive whole number, got '-3'"),
        ("?number=1.5", "number must be a positive whole number, got '1.5'"),
        ("?number=%204", "number must be a positive whole number, got ' 4'"),
        ("?number=%D9%A3", "number must be a positive whole number"),  # Arabic-Indic three
        ("?number=0", "number must be at least 1, got '0'"),
        ("?number=99999999999999999999999", "number is too large (at most 2147483647)"),
        ("?number=2147483648", "number is too large (at most 2147483647)"),
        # Thousands of digits: past Python's int() limit, zero-padded or not.
        ("?number=" + "9" * 5000, "number is too large (at most 2147483647)"),
        ("?number=" + "0" * 5000 + "1", "number is too long (at most 20 digits)"),
        ("?number=" + "0" * 4400 + "9" * 11, "number is too large (at most 2147483647)"),
        ("?number=" + "0" * 21, "number is too long (at most 20 digits)"),
        ("?stack=4", "number is missing"),
    ],
)
async def test_bad_number_is_a_400_with_a_json_error(
    make_settings, db, serve, http, query: str, complaint: str
):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/get_text{query}") as response:
        body = await response.read()
        assert response.status == 400
        assert response.headers["Content-Type"] == "application/json"
    error = json.loads(body)["error"]
    assert error.startswith(complaint)
    assert error.endswith("use /get_text?number=<StackchanID>")
    # A robot never sends this, but if one did it would read the error text, not a model.
    assert firmware_model_name(body).startswith(complaint)
    await api.stop()
    assert (await AssignmentRepository(db).overview()) == []  # nothing recorded as seen


async def test_largest_accepted_number_is_served(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(), db=db))

    async with http.get(f"{api.url}/get_text?number=2147483647") as response:
        assert response.status == 200
        assert firmware_model_name(await response.read()) == DEFAULT_MODEL
    await api.stop()  # the sighting must fit SQLite's INTEGER when it is flushed
    [robot] = await AssignmentRepository(db).overview()
    assert robot.stack_id == 2147483647


async def test_disabled_legacy_endpoint_answers_404_json(make_settings, db, serve, http):
    api = await serve(create_app(make_settings(legacy_endpoint_enabled=False), db=db))

    async with http.get(f"{api.url}/get_text?number=4") as response:
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/json"
        body = await response.json()
    assert "/get_text is turned off" in body["error"]
    async with http.get(f"{api.url}/healthz") as response:
        assert response.status == 200


async def test_legacy_endpoint_needs_no_token_even_when_the_api_has_one(make_settings, db, serve):
    api = await serve(create_app(make_settings(device_api_token="s3cret-token"), db=db))

    status, _, body = await firmware_get(api.host, api.port, "/get_text?number=1")

    assert status == 200
    assert firmware_model_name(body) == DEFAULT_MODEL


@pytest.mark.parametrize(
    "raw_query",
    [
        "number=1", "number=42", "number=999999999", "number=1000000000", "number=2147483647",
        "number=2147483648", "number=007", "number=0", "number=", "number=٣", "number=1&x=2",
        "number=%31", "x=1&number=3", "number=12a", "number=" + "9" * 30,
    ],
)  # fmt: skip
def test_the_firmware_fast_path_reads_what_the_general_path_reads(raw_query):
    fast = firmware_number(raw_query)
    try:
        general = parse_stack_id(MultiDict(parse_qsl(raw_query)).get("number"), "number")
    except InvalidStackId:
        general = None
    # The fast path may decline (None) and leave it to the general path, never disagree.
    assert fast is None or fast == general
    if raw_query in ("number=1", "number=42", "number=999999999"):
        assert fast == general  # what the firmware sends takes the fast path
