"""Fixtures: a real SQLite file, the real app on a real 127.0.0.1 port, a real HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from config.settings import DeviceApiSettings
from device_api.server import bound_addresses, start_device_api, stop_device_api
from storage.assignments import AssignmentRepository
from storage.database import Database
from tests.openapi.clients import checked_session

DEFAULT_MODEL = "gpt-4.1-nano-2025-04-14"
STAFF = {"by_id": "1001", "by_name": "Aiko"}
HANG_CEILING = 120  # seconds


@dataclass
class RunningApi:
    runner: web.AppRunner
    host: str
    port: int
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await stop_device_api(self.runner)


@pytest.fixture
def make_settings(db_path: Path) -> Callable[..., DeviceApiSettings]:
    def make(**overrides: Any) -> DeviceApiSettings:
        values: dict[str, Any] = {
            "database_path": db_path,
            "default_model": DEFAULT_MODEL,
            "device_api_host": "127.0.0.1",
            "device_api_port": 0,
            "device_api_token": None,
            "legacy_endpoint_enabled": True,
            "last_seen_flush_seconds": 3600.0,
            "log_level": "INFO",
        }
        values.update(overrides)
        # Explicit values win over the environment; _env_file=None ignores a developer's .env.
        return DeviceApiSettings(_env_file=None, **values)

    return make


@pytest.fixture
def repo(db: Database) -> AssignmentRepository:
    return AssignmentRepository(db)


@pytest.fixture
async def serve(db: Database) -> AsyncIterator[Callable[..., Awaitable[RunningApi]]]:
    # Depends on db so that apps given that database stop before it closes.
    started: list[RunningApi] = []

    async def start(app: web.Application, **options: Any) -> RunningApi:
        """Serve ``app``; ``options`` go to start_device_api (no access log unless given)."""
        options.setdefault("access_log", None)
        runner = await start_device_api(app, "127.0.0.1", 0, **options)
        host, port = bound_addresses(runner)[0]
        running = RunningApi(runner, host, port)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # Only bounds a hang: a robot's first sentence to a local model starts the llama.cpp engine,
    # which can take tens of seconds on a busy machine.
    # What it reads under /v1 is checked against OpenAI's schema (tests/openapi).
    async with checked_session(timeout=aiohttp.ClientTimeout(total=HANG_CEILING)) as session:
        yield session
