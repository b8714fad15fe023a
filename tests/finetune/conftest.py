"""Fixtures for the fine-tuning tests: a real database file, the fake OpenAI server, the real
SDK client pointed at it, and a sink that behaves like Discord with ``enforce_nonce``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from openai import AsyncOpenAI

from finetune.models import default_model_table
from finetune.notices import DeliveryResult, Notice
from finetune.plan import TrainingParams, TrainingPlan, prepare_plan
from finetune.service import FineTuneService
from storage.database import Database
from tests.fakes.openai import FakeOpenAI

MODEL = "gpt-4o-mini-2024-07-18"


def chat_line(question: str, answer: str, system: str | None = "You are Stack-chan.") -> str:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages}, ensure_ascii=False)


def training_jsonl(n: int = 12) -> bytes:
    lines = [chat_line(f"What is {i} + {i}?", f"{i} + {i} is {2 * i}!") for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


class Clock:
    """A settable clock for the service, so progress throttling is testable without waiting."""

    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class DiscordLikeSink:
    """Posts like Discord with enforce_nonce: a repeated nonce returns the existing message."""

    answers: list[DeliveryResult] = field(default_factory=list)  # queued answers, then delivered
    attempts: list[Notice] = field(default_factory=list)
    messages: dict[str, Notice] = field(default_factory=dict)  # nonce -> the one posted message

    async def deliver(self, notice: Notice) -> DeliveryResult:
        self.attempts.append(notice)
        answer = self.answers.pop(0) if self.answers else DeliveryResult.delivered()
        if answer.outcome == "delivered":
            self.messages.setdefault(notice.nonce, notice)
        return answer

    def kinds(self) -> list[str]:
        return [n.kind.value for n in self.messages.values()]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    sdk = AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=2, timeout=5.0)
    yield sdk
    await sdk.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(client: AsyncOpenAI, db: Database, clock: Clock) -> FineTuneService:
    return FineTuneService(client, db, clock=clock)


@pytest.fixture
def sink() -> DiscordLikeSink:
    return DiscordLikeSink()


@pytest.fixture
def make_plan() -> Callable[..., TrainingPlan]:
    def make(data: bytes | None = None, **params: object) -> TrainingPlan:
        params.setdefault("base_model", MODEL)
        return prepare_plan(
            data if data is not None else training_jsonl(),
            training_filename="train.jsonl",
            params=TrainingParams(**params),  # type: ignore[arg-type]
            models=default_model_table(),
        )

    return make
