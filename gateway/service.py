"""The gateway: answers a chat with the model assigned to the robot now, wherever it lives.

Routing is by model name: a local fine-tune (local_models.py) goes to the local engine, the
embedded one (engine.py) or LOCAL_ENGINE_URL; any other name goes to OpenAI with kobo's key
(the robot's key only says which robot is asking). Each upstream has its own
:class:`ConcurrencyLimit`, so a busy local engine does not hold up robots that talk to OpenAI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from config.settings import GatewaySettings
from gateway.chatting import chatting_file
from gateway.engine import EngineOptions, Hold, LocalEngines
from gateway.errors import GatewayError, UpstreamUnavailable
from gateway.export import GgufExporter
from gateway.keys import RobotKeys
from gateway.limits import ConcurrencyLimit
from gateway.local_models import LocalModel, LocalModelIndex
from gateway.shaping import (
    ChatPolicy,
    TextBudget,
    UnusableAnswer,
    Usage,
    compact_answer,
    compact_chunk,
    local_body,
    new_answer_id,
    openai_body,
)
from gateway.upstream import Upstream
from i18n import msg
from storage.database import Database
from storage.robot_keys import RobotCredentials, RobotKeyRepository

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Answer:
    """A complete answer (OpenAI's shape, compact) and how long it took."""

    body: dict[str, Any]
    seconds: float

    @property
    def usage(self) -> Usage:
        return Usage.of(self.body)

    @property
    def text(self) -> str | None:
        return self.body["choices"][0]["message"].get("content")


class Gateway:
    def __init__(self, settings: GatewaySettings, db: Database, default_model: str):
        self.settings = settings
        self.default_model = default_model
        self._robots = RobotKeyRepository(db)
        self.keys = RobotKeys(self._robots)
        self.policy = ChatPolicy(
            max_answer_tokens=settings.gateway_max_answer_tokens,
            max_reply_bytes=settings.gateway_max_reply_bytes,
            temperature=settings.gateway_temperature,
            system_prompt=settings.gateway_system_prompt,
        )
        timeout = settings.gateway_upstream_timeout_seconds
        connections = settings.gateway_max_concurrent * 2
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._openai = (
            Upstream(
                msg("gateway.upstream.openai"),
                settings.openai_base_url or OPENAI_URL,
                key,
                timeout_seconds=timeout,
                connections=connections,
                is_openai=True,
            )
            if key
            else None
        )
        models_dir = settings.data_dir / "models"
        self.local_models = LocalModelIndex(models_dir)
        self._external = None
        self._engines = None
        if settings.local_engine_url:
            external_key = settings.local_engine_api_key
            self._external = Upstream(
                msg("gateway.upstream.local"),
                settings.local_engine_url,
                external_key.get_secret_value() if external_key else None,
                timeout_seconds=timeout,
                connections=connections,
            )
        else:
            self._engines = LocalEngines(
                GgufExporter(models_dir, settings.local_engine_base_type),
                EngineOptions(
                    slots=settings.local_engine_slots,
                    context_tokens=settings.local_engine_context_tokens,
                    threads=settings.local_engine_threads,
                    start_seconds=settings.local_engine_start_seconds,
                    timeout_seconds=timeout,
                    log_dir=models_dir / "_engine",
                    chatting_file=chatting_file(settings.data_dir),
                ),
            )
        self._limits = {
            route: ConcurrencyLimit(
                settings.gateway_max_concurrent,
                settings.gateway_max_queued,
                settings.gateway_queue_seconds,
            )
            for route in ("openai", "local")
        }

    async def close(self) -> None:
        for upstream in (self._openai, self._external):
            if upstream is not None:
                await upstream.close()
        if self._engines is not None:
            await self._engines.close()

    def engine_addresses(self) -> list[str]:
        """The embedded engines running now (bench/gateway.py calls them directly)."""
        return self._engines.addresses() if self._engines is not None else []

    # --- what robots and staff call ---------------------------------------------------------

    def model_of(self, robot: RobotCredentials) -> str:
        return robot.model or self.default_model

    async def model_names(self, robot: RobotCredentials) -> list[str]:
        """``/v1/models``: the robot's model first, then every local fine-tune."""
        names = [self.model_of(robot)]
        names += [model.name for model in await self.local_models.all()]
        return list(dict.fromkeys(names))

    async def answer(
        self, model: str, request: dict[str, Any], *, policy: ChatPolicy | None = None
    ) -> Answer:
        """A complete answer from ``model`` to ``request`` (a checked chat request);
        ``policy`` replaces the settings' limits (/try keeps the system prompt staff typed)."""
        started = time.monotonic()
        async with AsyncExitStack() as stack:
            upstream, body = await self._route(model, request, stack, policy or self.policy)
            raw = await upstream.complete(body)
        try:
            compact = compact_answer(raw, model)
        except UnusableAnswer as bad:
            raise upstream.unusable(str(bad)) from None
        return Answer(compact, time.monotonic() - started)

    async def stream(self, model: str, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Streamed chunks from ``model`` in OpenAI's shape, each named after it, with at most
        ``max_reply_bytes`` of text; the last one carries usage."""
        async with AsyncExitStack() as stack:
            upstream, body = await self._route(model, request, stack, self.policy)
            answer_id, created = new_answer_id(), int(time.time())
            budget = TextBudget(self.policy.max_reply_bytes)
            cut = False
            async for raw in upstream.stream(body):
                try:
                    chunk = compact_chunk(raw, answer_id, created, model)
                except UnusableAnswer as bad:
                    raise upstream.unusable(str(bad)) from None
                if cut:  # the answer was cut: only its usage is still to come
                    if "usage" not in chunk:
                        continue
                    chunk["choices"] = []
                budget.take(chunk)
                cut = cut or budget.spent
                yield chunk

    async def count(self, stack_id: int, *, error: bool, usage: Usage | None = None) -> None:
        """Add one request to the robot's counters (/stacks); never fails the request."""
        usage = usage or Usage()
        try:
            await self._robots.count_request(
                stack_id,
                error=error,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            )
        except Exception:
            log.warning("could not count a request of robot %d", stack_id, exc_info=True)

    # --- routing ----------------------------------------------------------------------------

    async def _route(
        self, model: str, request: dict[str, Any], stack: AsyncExitStack, policy: ChatPolicy
    ) -> tuple[Upstream, dict[str, Any]]:
        """The upstream for ``model`` and the body to send it, holding a place in its line
        (and its engine) until ``stack`` closes."""
        local = await self.local_models.find(model)
        if local is None:
            if self._openai is None:
                raise UpstreamUnavailable(msg("gateway.no_openai_key", model=model))
            await stack.enter_async_context(self._limits["openai"].slot())
            return self._openai, openai_body(request, model, policy)
        body = local_body(request, model, local.system_prompt, policy)
        await stack.enter_async_context(self._limits["local"].slot())
        return await self._local_upstream(local, body, stack), body

    async def _local_upstream(
        self, model: LocalModel, body: dict[str, Any], stack: AsyncExitStack
    ) -> Upstream:
        if self._external is not None:
            return self._external
        assert self._engines is not None
        engine, extra = await self._engines.prepare(model)
        await stack.enter_async_context(Hold(engine))
        body.update(extra)
        return engine.upstream


__all__ = ["Answer", "Gateway", "GatewayError"]
