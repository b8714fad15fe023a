"""The trainer reads every request body whole, however it arrives, and answers hostile requests
in OpenAI's error shape without a traceback: bodies in TCP segments, slow or chunked (create
job, file upload), nested too deep, with NaN, cut off by a client that hangs up, and request
lines aiohttp cannot parse (tests/http_senders.py sends them). tests/conftest.py fails any test
that logs an ERROR.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from tests.http_senders import (
    RawResponse,
    hang_up_before_body,
    request_head,
    send_chunked,
    send_in_segments,
)
from tests.trainer.jobs import chat_examples
from tests.trainer.service import TINY, TOKEN, jsonl, upload

AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}
JOBS = "/v1/fine_tuning/jobs"
BOUNDARY = "----kobo-test-boundary"


def job_body(training_file: str, model: str = TINY) -> bytes:
    """A create-job request of about 2.2 KB, as the bot sends one with its metadata."""
    body = {
        "model": model,
        "training_file": training_file,
        "suffix": "robot",
        "seed": 7,
        "metadata": {f"workshop_note_{i}": "ロボットのことば" * 10 for i in range(8)},
        "method": {
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4, "lora_rank": 4}},
        },
    }
    return json.dumps(body, ensure_ascii=False).encode()


def multipart(content: bytes, filename: str = "train.jsonl") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="purpose"\r\n\r\n'
            "fine-tune\r\n"
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/jsonl\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


UPLOAD_HEADERS = {**AUTH, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def openai_error(response: RawResponse) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return error


async def test_a_create_job_body_in_segments_is_read_whole(trainer, client):
    file = await upload(client)
    body = job_body(file.id)
    assert len(body) > 2000

    response = await send_in_segments(
        *trainer.address, request_head("POST", JOBS, body, JSON_HEADERS), body
    )

    assert response.status == 200, response.body
    job = response.json()
    assert job["training_file"] == file.id
    assert job["metadata"] == json.loads(body)["metadata"]
    await client.fine_tuning.jobs.cancel(job["id"])  # no need to train it


@pytest.mark.parametrize("sender", ["slow", "chunked"])
async def test_a_slow_or_chunked_create_job_body_is_read_whole(trainer, client, sender):
    file = await upload(client)
    # An unknown model: refused naming the field, which only a body read whole can do.
    body = job_body(file.id, model="no-such-model")
    if sender == "slow":
        head = request_head("POST", JOBS, body, JSON_HEADERS)
        response = await send_in_segments(*trainer.address, head, body, segment=300, pause=0.02)
    else:
        head = request_head("POST", JOBS, headers=JSON_HEADERS, chunked=True)
        pieces = [body[i : i + 500] for i in range(0, len(body), 500)]
        response = await send_chunked(*trainer.address, head, pieces)

    assert response.status == 400
    assert openai_error(response)["param"] == "model"
    assert (await client.fine_tuning.jobs.list()).data == []


@pytest.mark.parametrize("sender", ["segments", "chunked"])
async def test_an_upload_sent_in_pieces_is_stored_whole(trainer, client, sender):
    content = jsonl(chat_examples(40))
    assert len(content) > 5000
    body = multipart(content)
    if sender == "segments":
        head = request_head("POST", "/v1/files", body, UPLOAD_HEADERS)
        response = await send_in_segments(*trainer.address, head, body)
    else:
        head = request_head("POST", "/v1/files", headers=UPLOAD_HEADERS, chunked=True)
        pieces = [body[i : i + 999] for i in range(0, len(body), 999)]
        response = await send_chunked(*trainer.address, head, pieces)

    assert response.status == 200, response.body
    stored = response.json()
    assert stored["bytes"] == len(content)
    assert await (await client.files.content(stored["id"])).aread() == content


async def test_a_chunked_create_job_body_over_the_limit_gets_413(trainer, client):
    head = request_head("POST", JOBS, headers=JSON_HEADERS, chunked=True)
    response = await send_chunked(*trainer.address, head, (b" " * 10_000 for _ in range(1000)))

    assert response.status == 413
    assert "65,536 bytes" in openai_error(response)["message"]


async def test_a_body_nested_30000_deep_is_a_400_not_a_crash(trainer, client):
    body = b'{"model":"tiny","metadata":' + b"[" * 30_000 + b"]" * 30_000 + b"}"

    response = await send_in_segments(
        *trainer.address, request_head("POST", JOBS, body, JSON_HEADERS), body
    )

    assert response.status == 400
    assert "nested more than 64 levels" in openai_error(response)["message"]


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
async def test_nan_and_infinity_are_refused_naming_the_field(trainer, client, value):
    file = await upload(client)
    body = job_body(file.id).replace(b'"n_epochs": 1', b'"n_epochs": ' + value)
    field = "method.supervised.hyperparameters.n_epochs"

    response = await send_in_segments(
        *trainer.address, request_head("POST", JOBS, body, JSON_HEADERS), body
    )

    assert response.status == 400
    error = openai_error(response)
    assert error["param"] == field
    assert "finite number" in error["message"]
    assert (await client.fine_tuning.jobs.list()).data == []


@pytest.mark.parametrize("path", [JOBS, "/v1/files"])
async def test_a_client_that_hangs_up_before_its_body_is_not_a_bug(trainer, client, caplog, path):
    body = job_body("file-" + "0" * 24) if path == JOBS else multipart(b'{"x": 1}\n' * 500)
    headers = JSON_HEADERS if path == JOBS else UPLOAD_HEADERS

    with caplog.at_level(logging.INFO, logger="trainer"):
        await hang_up_before_body(*trainer.address, request_head("POST", path, body, headers))
        for _ in range(600):
            if [r for r in caplog.records if "before sending its whole body" in r.message]:
                break
            await asyncio.sleep(0.05)

    left = [r for r in caplog.records if "before sending its whole body" in r.message]
    assert [r.levelno for r in left] == [logging.INFO]
    assert not [r for r in caplog.records if r.exc_info]
    assert (await client.files.list()).data == []  # nothing half-stored, and still serving


@pytest.mark.parametrize(
    ("request_line", "reason"),
    [
        (b"GET /v1/models?q=" + b"x" * 9000 + b" HTTP/1.1", "Got more than 8190 bytes"),
        (b"GET /v1/models/\xe3\x81\x82 HTTP/1.1", "Invalid char in url path"),
        (b"GET /v1/\x00 HTTP/1.1", "Invalid char in url path"),
    ],
    ids=["over-8-KB", "not-ascii", "nul"],
)
async def test_an_unparsable_request_gets_openai_json_and_no_traceback(
    trainer, caplog, request_line, reason
):
    head = request_line + b"\r\nHost: kobo\r\n\r\n"  # no token: refused before the check

    with caplog.at_level(logging.DEBUG):
        response = await send_in_segments(*trainer.address, head, b"")

    assert response.status == 400
    error = openai_error(response)
    assert error["message"].startswith(f"malformed HTTP request: {reason}")
    assert error["type"] == "invalid_request_error"
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_wrong_method_is_an_openai_shaped_405(trainer):
    response = await send_in_segments(*trainer.address, request_head("PUT", JOBS, b"", AUTH), b"")

    assert response.status == 405
    assert openai_error(response)["message"] == f"Method PUT is not allowed on {JOBS}"
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]


async def test_an_oversized_header_is_an_openai_shaped_400(trainer):
    headers = {**AUTH, "X-Junk": "x" * 9000}

    response = await send_in_segments(
        *trainer.address, request_head("GET", "/v1/models", b"", headers), b""
    )

    assert response.status == 400
    assert openai_error(response)["message"].startswith("malformed HTTP request: Got more than")
