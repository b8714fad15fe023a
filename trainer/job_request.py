"""Check a create-job request (``POST /v1/fine_tuning/jobs``) as OpenAI would, field by field.

The body is OpenAI's: ``model`` (here a base-model table name), ``training_file``,
``validation_file``, ``suffix``, ``seed``, ``metadata`` and ``method={"type": "supervised",
"supervised": {"hyperparameters": {...}}}`` (or the older top-level ``hyperparameters``). Besides
OpenAI's ``n_epochs``, ``batch_size`` and ``learning_rate_multiplier``, the hyperparameters may
carry kobo's own: ``learning_rate`` (absolute; wins over the multiplier), ``lora_rank``,
``full_fine_tune`` and ``merge``. Every problem is an :class:`ApiError` (400) naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finetune.plan import MAX_EPOCHS, MAX_SEED, MIN_EPOCHS, int_between, suffix_problem
from robots.model_ids import InvalidModelId, validate_model_id
from trainer.http_errors import ApiError, shorten
from trainer.ids import JOB, fine_tuned_model_name

MAX_BATCH_SIZE = 256
MAX_LORA_RANK = 1024
DEFAULT_LORA_RANK = 16
MAX_LEARNING_RATE_MULTIPLIER = 100.0
MAX_LEARNING_RATE = 1.0
MAX_METADATA_PAIRS = 16  # OpenAI's limits on metadata
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
AUTO = "auto"

KNOWN_FIELDS = frozenset(
    {
        "model",
        "training_file",
        "validation_file",
        "suffix",
        "seed",
        "metadata",
        "method",
        "hyperparameters",
        "integrations",
    }
)
KNOWN_HYPERPARAMETERS = frozenset(
    {
        "n_epochs",
        "batch_size",
        "learning_rate_multiplier",
        "learning_rate",
        "lora_rank",
        "full_fine_tune",
        "merge",
    }
)


@dataclass(frozen=True)
class JobRequest:
    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int | None
    metadata: dict[str, str] | None
    n_epochs: int | str  # a number or "auto"
    batch_size: int | str
    learning_rate_multiplier: float | str
    learning_rate: float | None
    lora_rank: int | None  # None for a full fine-tune
    full_fine_tune: bool
    merge: bool

    @property
    def method(self) -> str:
        return "full" if self.full_fine_tune else "lora"

    def hyperparameters(self) -> dict[str, Any]:
        """As the job reports them until training resolves the "auto" ones."""
        return {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "learning_rate": self.learning_rate,
            "lora_rank": self.lora_rank,
            "full_fine_tune": self.full_fine_tune,
            "merge": self.merge,
        }


def parse_job_request(body: Any, base_models: Mapping[str, object]) -> JobRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise ApiError(
            400, f"Unrecognized request argument supplied: {shorten(unknown[0])}", param=unknown[0]
        )
    model = _required_text(body, "model")
    if model not in base_models:
        raise ApiError(
            400,
            f"Model {shorten(model)!r} is not available on this trainer; it can train:"
            f" {', '.join(base_models)}",
            param="model",
            code="model_not_available",
        )
    training_file = _required_text(body, "training_file")
    validation_file = _optional_text(body, "validation_file")
    suffix = _optional_text(body, "suffix", allow_empty=True)
    if (problem := suffix_problem(suffix)) is not None:
        raise ApiError(400, str(problem), param="suffix")
    # A job id's 8 hex stand in for the real one: only the length matters here.
    try:
        validate_model_id(fine_tuned_model_name(model, suffix, JOB + "0" * 24))
    except InvalidModelId as exc:
        raise ApiError(
            400, f"suffix: the fine-tuned model's name would not do: {exc}", param="suffix"
        ) from None
    seed = body.get("seed")
    if seed is not None and not int_between(seed, 0, MAX_SEED):
        raise ApiError(400, f"seed must be an integer from 0 to {MAX_SEED}", param="seed")
    if body.get("integrations"):
        raise ApiError(400, "integrations are not supported by this trainer", param="integrations")
    metadata = _metadata(body.get("metadata"))
    hyper = _hyperparameters(body)
    return JobRequest(
        model=model,
        training_file=training_file,
        validation_file=validation_file,
        suffix=suffix,
        seed=seed,
        metadata=metadata,
        **hyper,
    )


def _hyperparameters(body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("method")
    param = "hyperparameters"
    given: Any = body.get("hyperparameters")
    if method is not None:
        if not isinstance(method, dict):
            raise ApiError(400, "method must be an object", param="method")
        if method.get("type") != "supervised":
            raise ApiError(
                400,
                f"method.type must be 'supervised' on this trainer, got"
                f" {shorten(repr(method.get('type')))}",
                param="method.type",
            )
        supervised = method.get("supervised") or {}
        if not isinstance(supervised, dict):
            raise ApiError(400, "method.supervised must be an object", param="method.supervised")
        if supervised.get("hyperparameters") is not None:
            if given is not None:
                raise ApiError(
                    400,
                    "give the hyperparameters in method.supervised.hyperparameters only",
                    param="hyperparameters",
                )
            given = supervised["hyperparameters"]
            param = "method.supervised.hyperparameters"
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ApiError(400, f"{param} must be an object", param=param)
    unknown = sorted(set(given) - KNOWN_HYPERPARAMETERS)
    if unknown:
        raise ApiError(
            400,
            f"{param}: unknown hyperparameter {shorten(unknown[0])!r}; known:"
            f" {', '.join(sorted(KNOWN_HYPERPARAMETERS))}",
            param=f"{param}.{shorten(unknown[0])}",
        )

    def named(name: str) -> str:
        return f"{param}.{name}"

    n_epochs = given.get("n_epochs", AUTO)
    if n_epochs != AUTO and not int_between(n_epochs, MIN_EPOCHS, MAX_EPOCHS):
        raise ApiError(
            400,
            f"n_epochs must be 'auto' or an integer from {MIN_EPOCHS} to {MAX_EPOCHS}",
            param=named("n_epochs"),
        )
    batch_size = given.get("batch_size", AUTO)
    if batch_size != AUTO and not int_between(batch_size, 1, MAX_BATCH_SIZE):
        raise ApiError(
            400,
            f"batch_size must be 'auto' or an integer from 1 to {MAX_BATCH_SIZE}",
            param=named("batch_size"),
        )
    multiplier = given.get("learning_rate_multiplier", AUTO)
    if multiplier != AUTO and not _number_in(multiplier, MAX_LEARNING_RATE_MULTIPLIER):
        raise ApiError(
            400,
            "learning_rate_multiplier must be 'auto' or a number above 0 and at most"
            f" {MAX_LEARNING_RATE_MULTIPLIER:g}",
            param=named("learning_rate_multiplier"),
        )
    learning_rate = given.get("learning_rate")
    if learning_rate is not None and not _number_in(learning_rate, MAX_LEARNING_RATE):
        raise ApiError(
            400,
            f"learning_rate must be a number above 0 and at most {MAX_LEARNING_RATE:g}",
            param=named("learning_rate"),
        )
    full = _flag(given, "full_fine_tune", named)
    merge = _flag(given, "merge", named)
    lora_rank = given.get("lora_rank")
    if full:
        if lora_rank is not None:
            raise ApiError(
                400, "lora_rank does not apply to a full fine-tune", param=named("lora_rank")
            )
        if merge:
            raise ApiError(
                400, "merge applies to LoRA only (a full fine-tune is whole)", param=named("merge")
            )
    else:
        lora_rank = DEFAULT_LORA_RANK if lora_rank is None else lora_rank
        if not int_between(lora_rank, 1, MAX_LORA_RANK):
            raise ApiError(
                400,
                f"lora_rank must be an integer from 1 to {MAX_LORA_RANK}",
                param=named("lora_rank"),
            )
    return {
        "n_epochs": n_epochs,
        "batch_size": batch_size,
        "learning_rate_multiplier": float(multiplier) if multiplier != AUTO else AUTO,
        "learning_rate": float(learning_rate) if learning_rate is not None else None,
        "lora_rank": lora_rank,
        "full_fine_tune": full,
        "merge": merge,
    }


def _required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise ApiError(400, f"Missing required parameter: {name!r}.", param=name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"{name} must be a non-empty string", param=name)
    return value


def _optional_text(body: dict[str, Any], name: str, *, allow_empty: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ApiError(400, f"{name} must be a non-empty string", param=name)
    return value


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > MAX_METADATA_PAIRS
        or not all(
            isinstance(k, str)
            and isinstance(v, str)
            and len(k) <= MAX_METADATA_KEY
            and len(v) <= MAX_METADATA_VALUE
            for k, v in value.items()
        )
    ):
        raise ApiError(
            400,
            f"metadata must be at most {MAX_METADATA_PAIRS} string pairs (keys up to"
            f" {MAX_METADATA_KEY} characters, values up to {MAX_METADATA_VALUE})",
            param="metadata",
        )
    return value


def _flag(given: dict[str, Any], name: str, named: Any) -> bool:
    value = given.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false", param=named(name))
    return value


def _number_in(value: Any, high: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= high
    )
