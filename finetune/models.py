"""The table of fine-tunable base models: tokenizer, per-example token limit and training price.

Prices change; the table is a setting. The lead's Settings hold either a JSON/TOML text or a path
to a ``.json``/``.toml`` file, which :func:`load_model_table` turns into a :class:`ModelTable`.
Format (TOML shown; JSON uses the same keys)::

    [models."gpt-4.1-mini-2025-04-14"]
    encoding = "o200k_base"            # cl100k_base or o200k_base
    max_tokens_per_example = 65536
    training_usd_per_1m_tokens = 5.00
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.tokens import KNOWN_ENCODINGS


class ModelTableError(ValueError):
    """The model table setting cannot be used; the message names the model and field."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    encoding: str
    max_tokens_per_example: int
    training_usd_per_1m_tokens: float

    def training_usd(self, tokens: int) -> float:
        """What OpenAI bills for training on ``tokens`` tokens (all epochs together)."""
        return tokens * self.training_usd_per_1m_tokens / 1_000_000


# Training prices from OpenAI's pricing page (https://openai.com/api/pricing, "Fine-tuning"),
# as published in August 2025. Per-example limits from OpenAI's fine-tuning guide ("Token
# limits"); the GPT-4.1 family is listed with the same 65,536 training context as GPT-4o.
DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("gpt-4.1-mini-2025-04-14", "o200k_base", 65_536, 5.00),
    ModelSpec("gpt-4.1-nano-2025-04-14", "o200k_base", 65_536, 1.50),
    ModelSpec("gpt-4.1-2025-04-14", "o200k_base", 65_536, 25.00),
    ModelSpec("gpt-4o-mini-2024-07-18", "o200k_base", 65_536, 3.00),
    ModelSpec("gpt-4o-2024-08-06", "o200k_base", 65_536, 25.00),
    ModelSpec("gpt-3.5-turbo-0125", "cl100k_base", 16_385, 8.00),
)


class ModelTable(Mapping[str, ModelSpec]):
    """Base model name -> :class:`ModelSpec`, in the order the setting lists them."""

    def __init__(self, specs: tuple[ModelSpec, ...] | list[ModelSpec]):
        self._specs = {spec.name: spec for spec in specs}
        if not self._specs:
            raise ModelTableError("the model table lists no models")

    def __getitem__(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(self._specs)
            raise KeyError(f"unknown base model {name!r}; known models: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def default_model_table() -> ModelTable:
    return ModelTable(DEFAULT_MODELS)


def parse_model_table(data: Mapping[str, Any], *, source: str = "model table") -> ModelTable:
    """Build a table from ``{"models": {name: {field: value}}}`` (already parsed JSON/TOML)."""
    models = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping) or not models:
        raise ModelTableError(f"{source}: needs a non-empty 'models' table")
    specs = []
    for name, fields in models.items():
        where = f"{source}: model {name!r}"
        if not isinstance(fields, Mapping):
            raise ModelTableError(f"{where}: must be a table of fields")
        unknown = set(fields) - {"encoding", "max_tokens_per_example", "training_usd_per_1m_tokens"}
        if unknown:
            raise ModelTableError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        encoding = fields.get("encoding")
        if encoding not in KNOWN_ENCODINGS:
            raise ModelTableError(
                f"{where}: field 'encoding' must be one of {', '.join(KNOWN_ENCODINGS)},"
                f" got {encoding!r}"
            )
        limit = fields.get("max_tokens_per_example")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ModelTableError(
                f"{where}: field 'max_tokens_per_example' must be a positive integer, got {limit!r}"
            )
        price = fields.get("training_usd_per_1m_tokens")
        if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
            raise ModelTableError(
                f"{where}: field 'training_usd_per_1m_tokens' must be a number >= 0, got {price!r}"
            )
        specs.append(ModelSpec(str(name), encoding, limit, float(price)))
    return ModelTable(specs)


def load_model_table(setting: str | Path | None) -> ModelTable:
    """Read the setting: empty -> defaults; a path to .json/.toml; or inline JSON/TOML text."""
    if setting is None or (isinstance(setting, str) and not setting.strip()):
        return default_model_table()
    text = str(setting)
    path = Path(text)
    looks_like_path = isinstance(setting, Path) or (
        "\n" not in text and text.strip().lower().endswith((".json", ".toml"))
    )
    if looks_like_path:
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelTableError(f"cannot read model table file {path}: {exc}") from exc
        return _parse_text(content, source=str(path), toml=path.suffix.lower() == ".toml")
    return _parse_text(text, source="model table setting", toml=not text.lstrip().startswith("{"))


def _parse_text(text: str, *, source: str, toml: bool) -> ModelTable:
    try:
        data = tomllib.loads(text) if toml else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if toml else "JSON"
        raise ModelTableError(f"{source}: not valid {kind}: {exc}") from exc
    return parse_model_table(data, source=source)
