"""The schema check itself: a server on a real port answers in shapes OpenAI's schema allows or
not; the real ``openai`` SDK and aiohttp, built by tests/openapi/clients.py, must tell which,
naming the route and the field."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest
from aiohttp import web

from tests.openapi import clients, plugin
from tests.openapi.clients import checked_session, openai_client
from tests.openapi.extract_subset import OPERATIONS, _refs, extract
from tests.openapi.schema import SchemaMismatch, check_body, subset

R = "#/components/schemas/Thing"
MODEL = {"id": "tiny", "object": "model", "created": 0, "owned_by": "kobo"}
FILE = {
    "id": "file-1",
    "object": "file",
    "bytes": 3,
    "created_at": 1,
    "filename": "a.jsonl",
    "purpose": "fine-tune",
    "status": "processed",
}


def chunk(**delta: Any) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "tiny",
        # finish_reason is OpenAPI 3.0's "nullable: true" in OpenAI's 3.1 spec: null is allowed.
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }


class Upstream:
    """What each path answers: (status, JSON body) or, for a stream, a list of events."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        status, body = self.answers[request.path]
        if isinstance(body, list):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for event in body:
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            return response
        return web.json_response(body, status=status)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    served = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield served, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@contextmanager
def mismatch() -> Iterator[pytest.ExceptionInfo[SchemaMismatch]]:
    """Expect a mismatch, and take it off the record the plugin fails tests with."""
    with pytest.raises(SchemaMismatch) as raised:
        yield raised
    assert raised.value in clients.mismatches
    clients.mismatches.clear()


async def test_the_sdk_passes_openai_shapes_and_stops_at_a_wrong_field(upstream):
    served, url = upstream
    served.answers["/v1/models"] = (200, {"object": "list", "data": [MODEL]})
    async with openai_client(f"{url}/v1", "key", max_retries=0) as client:
        assert [m.id for m in (await client.models.list()).data] == ["tiny"]
        served.answers["/v1/models"] = (
            200,
            {"object": "list", "data": [MODEL, {**MODEL, "created": None, "object": "models"}]},
        )
        with mismatch() as raised:
            await client.models.list()
    message = str(raised.value)
    assert message.startswith("GET /v1/models → 200 does not match OpenAI's ListModelsResponse")
    assert "$.data[1].created: None is not of type 'integer'" in message
    assert "$.data[1].object: 'models' is not one of ['model']" in message


async def test_each_stream_event_is_checked_as_it_arrives(upstream):
    served, url = upstream
    served.answers["/v1/chat/completions"] = (
        200,
        [chunk(role="assistant", content="hi"), chunk(content=7)],
    )
    async with openai_client(f"{url}/v1", "key", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with mismatch() as raised:
            async for _ in stream:
                pass
    assert "POST /v1/chat/completions → 200 (event stream) event 2" in str(raised.value)
    assert "$.choices[0].delta.content: 7 is not of type 'string'" in str(raised.value)


async def test_an_error_must_be_openais_error_object(upstream):
    served, url = upstream
    served.answers["/v1/fine_tuning/jobs"] = (400, {"error": {"message": "bad"}})
    async with openai_client(f"{url}/v1", "key", max_retries=0) as client:
        with mismatch() as raised:
            await client.fine_tuning.jobs.list()
    assert "GET /v1/fine_tuning/jobs → 400 does not match OpenAI's ErrorResponse" in str(
        raised.value
    )
    assert "$.error: 'type' is a required property" in str(raised.value)
    served.answers["/v1/fine_tuning/jobs"] = (
        400,
        {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}},
    )
    async with openai_client(f"{url}/v1", "key", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError, match="bad"):
            await client.fine_tuning.jobs.list()


async def test_aiohttp_responses_are_checked_when_read(upstream):
    served, url = upstream
    served.answers["/v1/files/file-1"] = (200, {**FILE, "expires_at": None})
    served.answers["/v1/no-such-route"] = (200, {"anything": 1})
    # Not OpenAI's routes: the old firmware's answers are not checked.
    served.answers["/get_text"] = (200, {"text": None})
    served.answers["/api/v1/stacks"] = (200, {"stacks": None})
    async with checked_session() as session:
        for path in ("/get_text", "/api/v1/stacks"):
            async with session.get(url + path) as response:
                await response.json()
        async with session.get(url + "/v1/files/file-1") as response:
            with mismatch() as raised:
                await response.json()
        assert "GET /v1/files/file-1 → 200 does not match OpenAI's OpenAIFile" in str(raised.value)
        assert "$.expires_at: None is not of type 'integer'" in str(raised.value)
        served.answers["/v1/files/file-1"] = (200, FILE)
        async with session.get(url + "/v1/files/file-1") as response:
            assert (await response.json())["id"] == "file-1"
        async with session.get(url + "/v1/no-such-route") as response:
            with mismatch() as raised:
                await response.read()
        assert "OpenAI's API has no GET /no-such-route" in str(raised.value)


def test_a_caught_mismatch_still_fails_the_test():
    hook = plugin.pytest_runtest_call(None)
    next(hook)  # the test runs: it catches a mismatch and carries on
    clients.recorded(SchemaMismatch("GET /v1/models → 200: $.data: wrong"))
    with pytest.raises(SchemaMismatch, match=r"\$\.data: wrong"):
        hook.send(None)
    assert clients.mismatches == []


def test_the_subset_holds_every_operation_and_every_schema_it_refers_to():
    kept = subset()
    for method, path in OPERATIONS:
        assert "200" in kept["paths"][path][method]["responses"], (method, path)
    assert set(_refs(kept)) <= set(kept["components"]["schemas"])
    assert kept["info"]["license"]["name"] == "MIT"


def test_openapi_3_0_leftovers_in_openais_spec_mean_what_they_meant():
    hyper = "/components/schemas/FineTuneSupervisedHyperparameters"
    # A boolean exclusiveMinimum: above `minimum` (0), not above True == 1.
    check_body("job", hyper, {"learning_rate_multiplier": 1.0, "n_epochs": 3})
    with pytest.raises(SchemaMismatch, match=r"\$\.learning_rate_multiplier"):
        check_body("job", hyper, {"learning_rate_multiplier": 0})
    chunk_schema = "/components/schemas/CreateChatCompletionStreamResponse"
    check_body("chunk", chunk_schema, {**chunk(content="hi"), "usage": None})
    with pytest.raises(SchemaMismatch, match=r"\$\.choices\[0\]\.index: None"):
        check_body("chunk", chunk_schema, {**chunk(), "choices": [{"index": None, "delta": {}}]})


def test_the_extractor_keeps_what_the_operations_refer_to_and_drops_the_rest():
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": R}}}}}
    paths: dict[str, Any] = {}
    for method, path in OPERATIONS:
        paths.setdefault(path, {})[method] = {"responses": ok}
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "OpenAI API", "version": "9", "license": {"name": "MIT"}},
        "paths": paths,
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "description": "documentation only",
                    "properties": {"description": {"$ref": "#/components/schemas/Text"}},
                },
                "Text": {"type": "string", "example": "x"},
                "ErrorResponse": {"type": "object"},
                "Unused": {"type": "integer"},
            }
        },
    }
    cut = extract(spec, "abc123")
    assert set(cut["components"]["schemas"]) == {"Thing", "Text", "ErrorResponse"}
    assert cut["components"]["schemas"]["Thing"] == {
        "type": "object",
        "properties": {"description": {"$ref": "#/components/schemas/Text"}},
    }
    assert cut["components"]["schemas"]["Text"] == {"type": "string"}
    assert cut["info"]["x-source-commit"] == "abc123"
    assert cut["paths"]["/models"]["get"]["responses"]["200"] == {
        "content": {"application/json": {"schema": {"$ref": R}}}
    }
