"""The embedded inference engine: llama.cpp servers kobo starts, feeds and stops.

One engine process (engine_main.py) per GGUF model file and chat template: a base model with
every LoRA fine-tune of it loaded as an adapter (a request names its adapter), or a full
fine-tune on its own. A new fine-tune of a base that is already served starts a fresh engine
with one more adapter; the old one is stopped once its requests in flight have finished.
Engines start on first use and stop when kobo stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.chatting import ChattingSignal
from gateway.errors import UpstreamUnavailable
from gateway.export import GgufExporter
from gateway.local_models import LocalModel
from gateway.upstream import Upstream
from i18n import msg

log = logging.getLogger(__name__)

STOP_SECONDS = 10.0
# Where ``python -m gateway.engine_main`` is found whatever kobo's working directory is.
SOURCE_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class EngineOptions:
    slots: int
    context_tokens: int  # per slot
    threads: int | None
    start_seconds: float
    timeout_seconds: float  # for each answer
    log_dir: Path  # each engine writes llama.cpp's log to <its model file's name>.log here
    # Kept fresh while an answer is in flight, so a training here yields (gateway/chatting.py).
    chatting_file: Path | None = None


class EngineFailed(UpstreamUnavailable):
    def __init__(self, model: str, reason: str):
        super().__init__(msg("gateway.engine_failed", model=model, reason=reason))


@dataclass(eq=False)
class EngineProcess:
    """One running ``gateway.engine_main`` and the upstream client for its server."""

    model_path: Path
    adapters: tuple[Path, ...]
    chat_template: str | None
    process: asyncio.subprocess.Process
    upstream: Upstream
    active: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    chatting: ChattingSignal | None = None

    @classmethod
    async def start(
        cls,
        model_path: Path,
        adapters: tuple[Path, ...],
        chat_template: str | None,
        options: EngineOptions,
        for_model: str,
    ) -> EngineProcess:
        spec = {
            "model": str(model_path),
            "adapters": [str(path) for path in adapters],
            "chat_template": chat_template,
            "slots": options.slots,
            "context_tokens": options.context_tokens,
            "threads": options.threads,
        }
        log_path = options.log_dir / f"{model_path.parent.name}-{model_path.stem}.log"
        await asyncio.to_thread(log_path.parent.mkdir, parents=True, exist_ok=True)
        # One engine's log at a time (llama.cpp logs every request): started afresh each time.
        engine_log = await asyncio.to_thread(open, log_path, "wb")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway.engine_main",
                json.dumps(spec),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=engine_log,
                cwd=SOURCE_ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            engine_log.close()
        assert process.stdout is not None
        try:
            async with asyncio.timeout(options.start_seconds):
                line = await process.stdout.readline()
            address = json.loads(line)["listening"] if line else None
        except (TimeoutError, ValueError, KeyError):
            address = None
        if not address:
            await _stop(process)
            raise EngineFailed(
                for_model,
                f"the engine did not start (exit status {process.returncode}); see {log_path}",
            )
        log.info("local engine for %s with %d adapter(s) at %s", model_path, len(adapters), address)
        upstream = Upstream(
            msg("gateway.upstream.local"),
            f"{address}/v1",
            None,
            timeout_seconds=options.timeout_seconds,
            connections=options.slots * 2,
        )
        engine = cls(model_path, adapters, chat_template, process, upstream)
        engine.idle.set()
        return engine

    async def stop(self) -> None:
        await self.upstream.close()
        await _stop(self.process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None and process.stdin is not None:
        process.stdin.close()  # engine_main exits when its input ends
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()


class LocalEngines:
    """Which engine answers which local model, starting and replacing engines as needed."""

    def __init__(self, exporter: GgufExporter, options: EngineOptions):
        self._exporter = exporter
        self._options = options
        self._engines: dict[tuple[Path, str | None], EngineProcess] = {}
        self._retiring: dict[EngineProcess, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()
        self._chatting = ChattingSignal(options.chatting_file) if options.chatting_file else None

    async def prepare(self, model: LocalModel) -> tuple[EngineProcess, dict[str, Any]]:
        """The engine for ``model`` and what its requests must add (the adapter to apply).

        The caller holds the engine with :meth:`hold` while its request runs.
        """
        model_path = await self._exporter.model_gguf(model)
        adapter = await self._exporter.adapter_gguf(model) if model.method == "lora" else None
        key = (model_path, model.chat_template)
        async with self._lock:
            engine = self._engines.get(key)
            if engine is not None and engine.process.returncode is not None:
                log.warning("the local engine for %s had stopped; starting it again", model_path)
                await engine.stop()
                engine = None
            if engine is None or (adapter is not None and adapter not in engine.adapters):
                adapters = (engine.adapters if engine else ()) + ((adapter,) if adapter else ())
                fresh = await EngineProcess.start(
                    model_path, adapters, model.chat_template, self._options, model.name
                )
                fresh.chatting = self._chatting
                self._engines[key] = fresh
                if engine is not None:
                    self._retire(engine)
                engine = fresh
        extra: dict[str, Any] = {}
        if adapter is not None:
            extra["lora"] = [{"id": engine.adapters.index(adapter), "scale": 1.0}]
        return engine, extra

    def addresses(self) -> list[str]:
        """The OpenAI base URL of each engine running now (for benchmarks and diagnostics)."""
        return [engine.upstream.base_url for engine in self._engines.values()]

    def _retire(self, engine: EngineProcess) -> None:
        async def stop_when_idle() -> None:
            await engine.idle.wait()
            await engine.stop()
            self._retiring.pop(engine, None)

        self._retiring[engine] = asyncio.get_running_loop().create_task(stop_when_idle())

    async def close(self) -> None:
        """Stop every engine, retiring ones included, without waiting for their requests."""
        async with self._lock:
            engines, self._engines = list(self._engines.values()), {}
            retiring, self._retiring = dict(self._retiring), {}
        for task in retiring.values():
            task.cancel()
        await asyncio.gather(*retiring.values(), return_exceptions=True)
        for engine in [*engines, *retiring]:
            await engine.stop()


class Hold:
    """``async with Hold(engine):`` while a request uses ``engine`` (so it is not stopped)."""

    def __init__(self, engine: EngineProcess):
        self._engine = engine
        self._chatting = engine.chatting.chatting() if engine.chatting else None

    async def __aenter__(self) -> EngineProcess:
        if self._chatting is not None:
            await self._chatting.__aenter__()
        self._engine.active += 1
        self._engine.idle.clear()
        return self._engine

    async def __aexit__(self, *exc: object) -> None:
        self._engine.active -= 1
        if self._engine.active == 0:
            self._engine.idle.set()
        if self._chatting is not None:
            await self._chatting.__aexit__(None, None, None)
