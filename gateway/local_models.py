"""Local fine-tunes kobo can serve: every ``DATA_DIR/models/<job id>/kobo-model.json``.

That file and its folder are what a finished local training job leaves (docs/design: the
trainer writes ``adapter/`` (a peft LoRA) or ``full/``, the tokenizer, and the description
read here). Nothing else is consulted: the gateway needs no trainer database.

The index is read again when a name it does not know is asked for (a job may have just
finished), at most once per ``rescan_seconds``, off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from robots.model_ids import InvalidModelId, validate_model_id

log = logging.getLogger(__name__)

DESCRIPTION = "kobo-model.json"
RESCAN_SECONDS = 2.0


@dataclass(frozen=True)
class LocalModel:
    name: str
    folder: Path  # DATA_DIR/models/<job id>
    job_id: str
    base_model: str  # the base-model table's name, e.g. gemma-3-270m
    base_source: str  # a local folder or a Hugging Face id
    method: Literal["lora", "full"]
    chat_template: str | None
    system_prompt: str | None

    @property
    def weights(self) -> Path:
        return self.folder / ("adapter" if self.method == "lora" else "full")


class LocalModelIndex:
    def __init__(self, models_dir: Path, *, rescan_seconds: float = RESCAN_SECONDS):
        self.models_dir = models_dir
        self._rescan_seconds = rescan_seconds
        self._models: dict[str, LocalModel] = {}
        self._scanned_at: float | None = None
        self._scan_lock = asyncio.Lock()
        self._reported: set[tuple[Path, float]] = set()

    async def find(self, name: str) -> LocalModel | None:
        if name not in self._models and self._may_rescan():
            await self._rescan()
        return self._models.get(name)

    async def all(self) -> list[LocalModel]:
        if self._may_rescan():
            await self._rescan()
        return sorted(self._models.values(), key=lambda model: model.name)

    def _may_rescan(self) -> bool:
        return (
            self._scanned_at is None or time.monotonic() - self._scanned_at >= self._rescan_seconds
        )

    async def _rescan(self) -> None:
        async with self._scan_lock:
            if not self._may_rescan():  # another caller just did it
                return
            self._models = await asyncio.to_thread(self._scan)
            self._scanned_at = time.monotonic()

    def _scan(self) -> dict[str, LocalModel]:
        found: dict[str, LocalModel] = {}
        for path in sorted(self.models_dir.glob(f"*/{DESCRIPTION}")):
            try:
                model = read_description(path)
            except (OSError, ValueError) as exc:
                self._report(path, exc)
                continue
            if model.name in found:
                self._report(
                    path, ValueError(f"{model.name} is also in {found[model.name].folder}")
                )
                continue
            found[model.name] = model
        return found

    def _report(self, path: Path, problem: Exception) -> None:
        # Once per version of the file, not on every rescan.
        try:
            key = (path, path.stat().st_mtime)
        except OSError:
            key = (path, 0.0)
        if key not in self._reported:
            self._reported.add(key)
            log.warning("ignoring the local model in %s: %s", path, problem)


def read_description(path: Path) -> LocalModel:
    """The model ``path`` (a kobo-model.json) describes; ValueError names the bad field."""
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        name = validate_model_id(_text(data, "model"))
    except InvalidModelId as exc:
        raise ValueError(f"model: {exc}") from None
    method = data.get("method")
    if method not in ("lora", "full"):
        raise ValueError(f"method: {method!r} is neither 'lora' nor 'full'")
    model = LocalModel(
        name=name,
        folder=path.parent,
        job_id=_text(data, "job_id"),
        base_model=_text(data, "base_model"),
        base_source=_text(data, "base_source"),
        method=method,
        chat_template=_optional_text(data, "chat_template"),
        system_prompt=_optional_text(data, "system_prompt"),
    )
    if not model.weights.is_dir():
        raise ValueError(f"{model.weights.name}/ is missing for method {method!r}")
    return model


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: must be a non-empty string")
    return value


def _optional_text(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field}: must be a string or null")
    return value or None
