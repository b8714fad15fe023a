"""The table of base models the local trainer can fine-tune.

Models are named by a short table name (``lfm2-350m``), never by their Hugging Face id: the name
ends up inside fine-tuned model names (``ft:lfm2-350m:kobo:cats:0a1b2c3d``), which robots must be
able to carry, and ids have ``/``.

The ``LOCAL_BASE_MODELS`` setting replaces entries of the default table (same name) and adds new
ones. It holds either a path to a ``.json``/``.toml`` file or the JSON/TOML text itself, in the
shape of ``FINETUNE_MODELS`` (TOML shown; JSON uses the same keys)::

    [models."my-model"]
    source = "/srv/models/my-model"    # a Hugging Face id (owner/name) or a local folder
    licence = "Apache-2.0"             # short note + URL, shown to staff
    chat_template = "..."              # Jinja; leave out to use the tokenizer's own
    parameters = 135000000             # for the memory and disk estimate
    reference_chars_per_second = 300   # training speed until this trainer has measured its own
    reference_peak_memory_bytes = 2000000000

A new entry needs ``source``; an entry that replaces a default keeps the fields it leaves out.
A relative folder (``./models/mine``, ``data/base-models/mine``; ``owner/name`` alone is a
Hugging Face id) and a relative file path in the setting are read against the working folder of
the process that reads the setting, and the table holds them absolute: the training process
runs in its job folder.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
HF_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
FIELDS = (
    "source",
    "licence",
    "chat_template",
    "parameters",
    "reference_chars_per_second",
    "reference_peak_memory_bytes",
)

# Gemma's turn format (https://ai.google.dev/gemma/docs/core/prompt-structure). Gemma has no
# system role: like Google's own template, the system text opens the first user turn. The model
# answers in "model" turns; <end_of_turn> ends each turn and is what generation stops on.
GEMMA_CHAT_TEMPLATE = r"""{{ bos_token }}
{%- if messages and messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = '' -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}
    {{- message['content'] | trim }}
    {{- '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<start_of_turn>model\n' }}
{%- endif -%}
"""


class BaseModelTableError(ValueError):
    """The ``LOCAL_BASE_MODELS`` setting cannot be used; the message names the model and field."""


@dataclass(frozen=True)
class BaseModel:
    name: str
    source: str  # a Hugging Face id or an absolute local folder
    licence: str
    chat_template: str | None  # None: the tokenizer's own
    parameters: int | None  # None: unknown (no estimate of memory and disk)
    reference_chars_per_second: float | None  # LoRA on a 2-core CPU; None: unknown
    reference_peak_memory_bytes: int | None  # LoRA on CPU; None: unknown

    @property
    def is_local_folder(self) -> bool:
        return is_local_source(self.source)


def is_local_source(source: str) -> bool:
    """Whether a model source names a folder on this machine rather than a Hugging Face id:
    anything but ``owner/name``. In a ``LOCAL_BASE_MODELS`` table, ``owner/name`` is also a
    folder when one exists there (and is held absolute from then on)."""
    return not HF_ID_PATTERN.fullmatch(source)


GEMMA_3_270M = "gemma-3-270m"


def gemma_folder(data_dir: Path) -> Path:
    """Where :mod:`trainer.gemma_package` writes the converted Gemma 3 270M."""
    return Path(data_dir).expanduser().absolute() / "base-models" / GEMMA_3_270M


def default_base_models(data_dir: Path) -> tuple[BaseModel, ...]:
    """The built-in table. Reference figures: see bench/local_train.py and bench/gemma_style.py.

    LFM2-350M is the default for hosts with internet: small, writes natural Japanese, and the
    LFM Open License v1.0 lets a workshop use its fine-tunes. Its speed and memory are
    estimates (it cannot be downloaded where kobo is developed): Gemma 3 270M's measured
    figures scaled by the weights a token goes through (LFM2 has ~2.5x Gemma's outside the
    embeddings; the trainer skips most of Gemma's 168M-weight output layer). Gemma 3 270M is
    for machines without internet (pip-packaged GGUF); measured by bench/gemma_style.py on a
    shared 2-core CPU: 100 short examples x 3 epochs of LoRA r16 in 114 s (about 200 chars/s),
    peak RSS 2.6 GiB.
    """
    return (
        BaseModel(
            name="lfm2-350m",
            source="LiquidAI/LFM2-350M",
            licence="LFM Open License v1.0 (https://www.liquid.ai/lfm-license)",
            chat_template=None,
            parameters=354_483_968,
            reference_chars_per_second=85.0,
            reference_peak_memory_bytes=3_500_000_000,
        ),
        BaseModel(
            name=GEMMA_3_270M,
            source=str(gemma_folder(data_dir)),
            licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
            chat_template=GEMMA_CHAT_TEMPLATE,
            parameters=268_098_176,
            reference_chars_per_second=200.0,
            reference_peak_memory_bytes=2_800_000_000,
        ),
    )


class BaseModelTable(Mapping[str, BaseModel]):
    """Table name -> :class:`BaseModel`, in the order the table lists them."""

    def __init__(self, models: tuple[BaseModel, ...] | list[BaseModel]):
        self._models = {model.name: model for model in models}
        if not self._models:
            raise BaseModelTableError("the local base model table lists no models")

    def __getitem__(self, name: str) -> BaseModel:
        try:
            return self._models[name]
        except KeyError:
            known = ", ".join(self._models)
            raise KeyError(f"unknown local base model {name!r}; known models: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)


def load_base_models(setting: str | Path | None, *, data_dir: Path) -> BaseModelTable:
    """The default table with the setting's entries applied (empty setting: the defaults)."""
    defaults = default_base_models(data_dir)
    if setting is None or (isinstance(setting, str) and not setting.strip()):
        return BaseModelTable(defaults)
    text = str(setting)
    looks_like_path = isinstance(setting, Path) or (
        "\n" not in text and text.strip().lower().endswith((".json", ".toml"))
    )
    if looks_like_path:
        path = Path(text.strip()).expanduser().absolute()
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BaseModelTableError(f"cannot read local base model file {path}: {exc}") from exc
        data = _parse_text(content, source=str(path), toml=path.suffix.lower() == ".toml")
        source = str(path)
    else:
        source = "LOCAL_BASE_MODELS"
        data = _parse_text(text, source=source, toml=not text.lstrip().startswith("{"))
    return apply_entries(defaults, data, source=source)


def apply_entries(
    defaults: tuple[BaseModel, ...], data: Any, *, source: str = "LOCAL_BASE_MODELS"
) -> BaseModelTable:
    """``defaults`` with the ``{"models": {name: {field: value}}}`` entries replacing/added."""
    models = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping) or not models:
        raise BaseModelTableError(f"{source}: needs a non-empty 'models' table")
    table = {model.name: model for model in defaults}
    for name, fields in models.items():
        where = f"{source}: model {name!r}"
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise BaseModelTableError(
                f"{where}: names are 1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter"
                " or digit"
            )
        if not isinstance(fields, Mapping):
            raise BaseModelTableError(f"{where}: must be a table of fields")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise BaseModelTableError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        known = table.get(name)
        if known is None and "source" not in fields:
            raise BaseModelTableError(f"{where}: field 'source' is required for a new model")
        checked = {field: _checked(where, field, value) for field, value in fields.items()}
        if known is None:
            known = BaseModel(name, "", "", None, None, None, None)
        table[name] = replace(known, **checked)
    return BaseModelTable(list(table.values()))


def _checked(where: str, field: str, value: Any) -> Any:
    if field == "source":
        if not isinstance(value, str) or not value.strip() or value.strip() in (".", "/"):
            raise BaseModelTableError(
                f"{where}: field 'source' must be a Hugging Face id (owner/name) or a folder,"
                f" got {value!r}"
            )
        # ``models/mine`` is also a folder when there is one: the table is read in the process
        # that read the settings, against its working folder, and the worker gets it absolute.
        if is_local_source(value) or Path(value).expanduser().is_dir():
            return str(Path(value).expanduser().absolute())
        return value
    if field == "licence":
        if not isinstance(value, str):
            raise BaseModelTableError(f"{where}: field 'licence' must be text, got {value!r}")
        return value
    if field == "chat_template":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise BaseModelTableError(
                f"{where}: field 'chat_template' must be Jinja text (or left out)"
            )
        return value
    if field == "reference_chars_per_second":
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise BaseModelTableError(
                f"{where}: field {field!r} must be a number > 0, got {value!r}"
            )
        return float(value)
    # parameters, reference_peak_memory_bytes
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BaseModelTableError(
            f"{where}: field {field!r} must be a positive integer, got {value!r}"
        )
    return value


def _parse_text(text: str, *, source: str, toml: bool) -> Any:
    try:
        return tomllib.loads(text) if toml else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if toml else "JSON"
        raise BaseModelTableError(f"{source}: not valid {kind}: {exc}") from exc
