"""``Retry-After`` on a 429 says how long the wait really is: robots that start together end
together, so when every place is taken by answers that just began, a place frees only when they
end, as long after as recent answers took (the openai SDK's two default retries follow
Retry-After: a guess that is too short makes them give up while the places are still busy)."""

from __future__ import annotations

import asyncio
import time

from pydantic import SecretStr

from device_api.app import create_app
from gateway.keys import RobotKeys
from storage.robot_keys import RobotKeyRepository
from tests.device_api.conftest import STAFF
from tests.gateway.stackchan_ex import say

HELLO = [{"role": "user", "content": "こんにちは"}]
PLACES = 4
ANSWER_SECONDS = 3.0


async def test_retry_after_covers_the_answers_that_hold_every_place(
    make_settings, serve, db, fake_openai, http, tmp_path
):
    settings = make_settings(
        data_dir=tmp_path / "data",
        openai_api_key=SecretStr(fake_openai.api_key),
        openai_base_url=fake_openai.base_url,
        gateway_max_concurrent=PLACES,
        gateway_max_queued=0,
    )
    api = await serve(create_app(settings, db=db))
    url = f"{api.url}/v1/chat/completions"
    keys = RobotKeys(RobotKeyRepository(db))
    robots = [(await keys.issue(n, **STAFF)).key for n in range(1, PLACES + 2)]

    # Recent answers: a class of robots answered together, each in at least ANSWER_SECONDS.
    fake_openai.delay_next(PLACES, ANSWER_SECONDS, path_prefix="/v1/chat")
    first = await asyncio.gather(*(say(http, url, key, HELLO) for key in robots[:PLACES]))
    assert [reply.status for reply in first] == [200] * PLACES

    # They all speak again at once: every place is taken by an answer that has just begun.
    # (Each is held ANSWER_SECONDS, thousands of times what the next request takes to come.)
    fake_openai.delay_next(PLACES, ANSWER_SECONDS, path_prefix="/v1/chat")
    began = time.monotonic()
    talking = [asyncio.create_task(say(http, url, key, HELLO)) for key in robots[:PLACES]]
    for _ in range(3000):  # until all of them have reached OpenAI
        if sum(p.startswith("/v1/chat") for p in fake_openai.started_paths) == 2 * PLACES:
            break
        await asyncio.sleep(0.01)
    headers = {"Authorization": f"Bearer {robots[PLACES]}"}
    async with http.post(url, json={"messages": HELLO}, headers=headers) as refused:
        asked = time.monotonic()
        assert refused.status == 429
        retry_after = int(refused.headers["Retry-After"])
    assert [(await reply).status for reply in talking] == [200] * PLACES

    # No place can free before the running answers are as old as the recent ones were.
    assert retry_after >= ANSWER_SECONDS - (asked - began)
    assert retry_after <= 60
