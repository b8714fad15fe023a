"""The device API's gateway pointed at a :class:`HostileUpstream` as if it were OpenAI, with a
robot's key: what the hostile-upstream and stream-failure tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai
from pydantic import SecretStr

from device_api.app import create_app
from gateway.keys import RobotKeys
from storage.assignments import AssignmentRepository
from storage.robot_keys import RobotKeyRepository, RobotUsage
from tests.device_api.conftest import STAFF, RunningApi
from tests.gateway.hostile_upstream import HostileUpstream

STACK_ID = 4
HELLO = [{"role": "user", "content": "こんにちは"}]


@dataclass
class HostileGateway:
    api: RunningApi
    robot_key: str
    upstream: HostileUpstream

    @property
    def chat_url(self) -> str:
        return f"{self.api.url}/v1/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.robot_key}"}

    def sdk(self, **options: Any) -> openai.AsyncOpenAI:
        options.setdefault("max_retries", 0)
        return openai.AsyncOpenAI(base_url=f"{self.api.url}/v1", api_key=self.robot_key, **options)


async def start_hostile_gateway(
    make_settings: Callable[..., Any],
    serve: Callable[..., Awaitable[RunningApi]],
    db: Any,
    upstream: HostileUpstream,
    tmp_path: Any,
    **overrides: Any,
) -> HostileGateway:
    settings = make_settings(
        data_dir=tmp_path / "data",
        openai_api_key=SecretStr("sk-kobo"),
        openai_base_url=upstream.base_url,
        **overrides,
    )
    api = await serve(create_app(settings, db=db))
    key = (await RobotKeys(RobotKeyRepository(db)).issue(STACK_ID, **STAFF)).key
    return HostileGateway(api, key, upstream)


async def counted(repo: AssignmentRepository, requests: int) -> RobotUsage:
    """The robot's counters once ``requests`` chats are counted (a stream counts after its
    last byte has gone)."""
    for _ in range(400):
        for robot in await repo.overview(STACK_ID):
            if robot.usage is not None and robot.usage.requests >= requests:
                return robot.usage
        await asyncio.sleep(0.05)
    raise AssertionError(f"{requests} chats were never counted")
