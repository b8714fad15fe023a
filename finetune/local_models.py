"""The base models kobo's trainer can train, as its ``GET /v1/models`` describes them.

The trainer lists its base models (and its finished fine-tunes) in OpenAI's list shape; each base
model also carries kobo's fields: the training throughput in characters of chat text per second
(the median of this trainer's last few finished jobs on that model, else a reference figure for a
2-core CPU), its parameter count, the peak memory of a LoRA run, the device, the licence and the
one-time conversion its first training still needs. The /train preview turns those into the
estimated time, memory and disk of a run; :class:`LocalServing` adds the one-time GGUF export
that serving its first fine-tune to robots from this machine needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from config.settings import GatewaySettings
from gateway.export import base_gguf_folder

# LoRA on all linear layers adds about rank x (d_in + d_out) weights per d_in x d_out layer: for
# the small models a workshop trains (hidden sizes 640-1024) about rank/256 of the parameters.
LORA_SHARE_PER_RANK = 1 / 256
# fp32: the weights, and for a resumable checkpoint also Adam's two moments.
BYTES_PER_WEIGHT = 4
CHECKPOINT_BYTES_PER_TRAINED_WEIGHT = 3 * BYTES_PER_WEIGHT
# A full fine-tune also holds a gradient and Adam's two moments for every weight in memory.
FULL_EXTRA_MEMORY_PER_WEIGHT = 3 * BYTES_PER_WEIGHT
# The worker's default LoRA rank (trainer/worker.py, hyperparameters.lora_rank).
DEFAULT_LORA_RANK = 16
# llama.cpp's GGUF of a base model, bytes per weight: q8_0 keeps 32 weights in 34 bytes.
GGUF_BYTES_PER_WEIGHT = {"q8_0": 34 / 32, "f16": 2.0}


@dataclass(frozen=True)
class LocalBaseModel:
    name: str
    chars_per_second: float | None  # None: unknown until this trainer has trained it once
    throughput_measured: bool  # measured by this trainer, not the table's reference figure
    parameters: int | None
    peak_memory_bytes: int | None  # of a LoRA run
    device: str  # "cpu" or "cuda"
    licence: str | None
    throughput_runs: int = 0  # how many measured runs chars_per_second is the median of
    source: str | None = None  # as the trainer names it (a Hugging Face id or a folder)
    # One-time disk costs still ahead (None: none, or not known): converting the base on the
    # trainer before its first training, and exporting it to GGUF before its first fine-tune
    # is served to robots here.
    conversion_bytes: int | None = None
    export_bytes: int | None = None

    def memory_bytes(self, *, full: bool) -> int | None:
        """Peak memory of a run: the LoRA figure, plus gradients and Adam for a full run."""
        if self.peak_memory_bytes is None:
            return None
        if not full:
            return self.peak_memory_bytes
        if self.parameters is None:
            return None
        return self.peak_memory_bytes + self.parameters * FULL_EXTRA_MEMORY_PER_WEIGHT

    def disk_bytes(self, *, full: bool, lora_rank: int | None, merge: bool) -> int | None:
        """What a run writes under DATA_DIR: the model (adapter or full weights), its newest
        checkpoint (with the optimizer state) and, when asked, the merged model."""
        if self.parameters is None:
            return None
        rank = lora_rank or DEFAULT_LORA_RANK
        trained = self.parameters if full else int(self.parameters * rank * LORA_SHARE_PER_RANK)
        total = trained * (BYTES_PER_WEIGHT + CHECKPOINT_BYTES_PER_TRAINED_WEIGHT)
        if merge and not full:
            total += self.parameters * BYTES_PER_WEIGHT
        return total


def parse_local_models(entries: Iterable[Any]) -> dict[str, LocalBaseModel]:
    """The base models among ``/v1/models`` entries (SDK ``Model`` objects or dicts): those the
    trainer marks ``kobo_trainable: true`` (its finished fine-tunes are marked false)."""
    found: dict[str, LocalBaseModel] = {}
    for entry in entries:
        fields = _fields(entry)
        name = fields.get("id")
        if not isinstance(name, str) or fields.get("kobo_trainable") is not True:
            continue
        speed = fields.get("kobo_chars_per_second")
        found[name] = LocalBaseModel(
            name=name,
            chars_per_second=float(speed) if _positive(speed) else None,
            throughput_measured=fields.get("kobo_throughput_measured") is True,
            parameters=_int(fields.get("kobo_parameters")),
            peak_memory_bytes=_int(fields.get("kobo_peak_memory_bytes")),
            device=str(fields.get("kobo_device") or "cpu"),
            licence=_text(fields.get("kobo_licence")),
            throughput_runs=_int(fields.get("kobo_throughput_runs")) or 0,
            source=_text(fields.get("kobo_source")),
            conversion_bytes=_int(fields.get("kobo_base_conversion_bytes")),
        )
    return found


@dataclass(frozen=True)
class LocalServing:
    """This bot serves local fine-tunes with its own engine (gateway/export.py): before a base
    model's first fine-tune answers a robot, the base is exported once to GGUF in
    ``models_dir``."""

    models_dir: Path
    gguf_type: str  # LOCAL_ENGINE_BASE_TYPE

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> LocalServing | None:
        """As the gateway serves them: its own engine, unless LOCAL_ENGINE_URL names another."""
        if settings.local_engine_url is not None:
            return None
        return cls(settings.data_dir / "models", settings.local_engine_base_type)

    def with_export_bytes(self, models: Mapping[str, LocalBaseModel]) -> dict[str, LocalBaseModel]:
        """``models``, each with the GGUF export it still needs here (blocking: file checks)."""
        return {name: replace(m, export_bytes=self._export_bytes(m)) for name, m in models.items()}

    def _export_bytes(self, model: LocalBaseModel) -> int | None:
        if model.parameters is None or model.source is None:
            return None
        folder = base_gguf_folder(self.models_dir, model.name, model.source)
        if (folder / f"model-{self.gguf_type}.gguf").is_file():
            return None
        return int(model.parameters * GGUF_BYTES_PER_WEIGHT[self.gguf_type])


def _fields(entry: Any) -> Mapping[str, Any]:
    if isinstance(entry, Mapping):
        return entry
    # The SDK keeps fields it does not know (kobo's) as extras of its pydantic model.
    return entry.model_dump()


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return int(value) if _positive(value) else None
