"""Prepare a fine-tuning run: validate the files and parameters, count tokens, estimate cost.

Nothing here talks to OpenAI; a :class:`TrainingPlan` is what staff see (ephemerally) before they
press Start, and what :meth:`finetune.service.FineTuneService.start` consumes.

A local run (kobo's own trainer) costs nothing: its estimate is the training TIME on the trainer's
machine, from the characters of chat text and the throughput the trainer reports in characters
per second (see finetune/local_models.py). Characters, not tokens: that is what the trainer
measures its throughput in, they are counted exactly and for free, and the bot need not load
(or download) the base model's tokenizer to make a preview.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import statistics
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from finetune.backends import BackendName
from finetune.local_models import LocalBaseModel
from finetune.models import ModelSpec
from finetune.tokens import count_assistant_tokens, count_example_tokens
from finetune.validation import DEFAULT_MAX_PROBLEMS, Example, Problem, validate_chat_jsonl
from i18n import Message, msg

# OpenAI's default-epochs rule from the chat fine-tuning data preparation cookbook.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

MIN_EPOCHS = 1
MAX_EPOCHS = 50  # the API's upper bound for n_epochs
MAX_SUFFIX_LENGTH = 64  # documented on the create-job endpoint
# OpenAI documents only the length. Model names are "ft:base:org:suffix:id", so ':' cannot be in
# a suffix; we accept the conservative set every fine-tuned model name we have seen uses.
SUFFIX_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
MAX_SEED = 2**31 - 1
MIN_LORA_RANK = 1
MAX_LORA_RANK = 256
# Evaluating the validation file once per epoch: a forward pass, about a third of a training step.
VALIDATION_COST_SHARE = 1 / 3
SHOWN_TRUNCATED_LINES = 10  # line numbers of over-long examples named in the warning

Epochs = int | Literal["auto"]


def auto_epochs(n_examples: int) -> int:
    """The number of epochs OpenAI picks for ``n_epochs="auto"``."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def suffix_problem(suffix: str | None) -> Message | None:
    """Why OpenAI would refuse this suffix, or None when it is fine (None = no suffix)."""
    if suffix is None:
        return None
    if not suffix:
        return msg("training.param.suffix_empty")
    if len(suffix) > MAX_SUFFIX_LENGTH:
        return msg("training.param.suffix_too_long", length=len(suffix), limit=MAX_SUFFIX_LENGTH)
    if not SUFFIX_PATTERN.fullmatch(suffix):
        bad = "".join(sorted({c for c in suffix if not SUFFIX_PATTERN.fullmatch(c)}))
        return msg("training.param.suffix_characters", characters=repr(bad))
    return None


@dataclass(frozen=True)
class TrainingParams:
    base_model: str
    epochs: Epochs = "auto"
    suffix: str | None = None
    seed: int | None = None
    backend: BackendName = "openai"
    # Only kobo's trainer takes these (None / False: its defaults, LoRA without merging).
    lora_rank: int | None = None
    full_fine_tune: bool = False
    merge: bool = False

    def problems(self, models: Mapping[str, object]) -> list[Message]:
        found = []
        if self.backend != "local":
            found += [
                msg("training.param.local_only", option=option)
                for option, given in (
                    ("lora_rank", self.lora_rank is not None),
                    ("full", self.full_fine_tune),
                    ("merge", self.merge),
                )
                if given
            ]
        elif self.lora_rank is not None and not int_between(
            self.lora_rank, MIN_LORA_RANK, MAX_LORA_RANK
        ):
            found.append(
                msg(
                    "training.param.lora_rank_range",
                    low=MIN_LORA_RANK,
                    high=MAX_LORA_RANK,
                    rank=repr(self.lora_rank),
                )
            )
        if self.base_model not in models:
            found.append(
                msg(
                    "training.param.unknown_base_model",
                    model=repr(self.base_model),
                    models=", ".join(models),
                )
            )
        if self.epochs != "auto" and not int_between(self.epochs, MIN_EPOCHS, MAX_EPOCHS):
            found.append(
                msg(
                    "training.param.epochs_range",
                    low=MIN_EPOCHS,
                    high=MAX_EPOCHS,
                    epochs=repr(self.epochs),
                )
            )
        if (problem := suffix_problem(self.suffix)) is not None:
            found.append(problem)
        if self.seed is not None and not int_between(self.seed, 0, MAX_SEED):
            found.append(msg("training.param.seed_range", high=MAX_SEED, seed=repr(self.seed)))
        return found


def int_between(value: object, low: int, high: int) -> bool:
    """An int (not a bool) from ``low`` to ``high``: what a client may send is anything."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class TokenStats:
    examples: int
    total_tokens: int
    min_tokens: int
    max_tokens: int
    mean_tokens: float
    median_tokens: float
    assistant_tokens: int
    billed_tokens: int  # per epoch: each example counts at most the model's per-example limit
    over_limit_lines: tuple[int, ...]  # examples OpenAI will truncate


@dataclass(frozen=True)
class FileCheck:
    file: str
    sha256: str
    lines: int
    valid_examples: int
    problems: tuple[Problem, ...]  # the first few, to show
    problem_count: int
    tokens: TokenStats | None  # None when the base model (and so its tokenizer) is unknown
    chars: int = 0  # characters of chat text in the valid examples (local runs' estimate)


@dataclass(frozen=True)
class CostEstimate:
    billed_tokens_per_epoch: int
    epochs: int
    epochs_auto: bool
    trained_tokens: int
    usd_per_1m_tokens: float
    usd: float


@dataclass(frozen=True)
class TimeEstimate:
    """A local run: how long it takes on the trainer's machine, and what memory and disk."""

    chars_per_epoch: int
    epochs: int
    epochs_auto: bool
    chars_per_second: float | None  # None: not known before this trainer has trained the model
    throughput_measured: bool  # by this trainer; otherwise the model table's reference figure
    device: str
    seconds: float | None
    memory_bytes: int | None
    disk_bytes: int | None  # what this run writes
    throughput_runs: int = 0  # the measured runs chars_per_second is the median of
    # Written once, before this base model's first training (conversion) and before its first
    # fine-tune is served to robots here (GGUF export); None: no longer due (or not known).
    conversion_bytes: int | None = None
    export_bytes: int | None = None

    @property
    def trained_chars(self) -> int:
        return self.chars_per_epoch * self.epochs

    @property
    def first_use_bytes(self) -> int | None:
        """The one-time disk costs still ahead, together; None when there are none."""
        return (self.conversion_bytes or 0) + (self.export_bytes or 0) or None

    def basis_message(self) -> Message:
        """Where the throughput comes from: this machine's runs, or the table's reference."""
        if self.throughput_measured:
            return msg("training.preview.throughput_measured", runs=max(self.throughput_runs, 1))
        return msg("training.preview.throughput_reference")

    def first_use_message(self, size: str) -> Message | None:
        """What the first use of this base model writes once (``size``: their sum, for people),
        or None when nothing is due."""
        if self.conversion_bytes and self.export_bytes:
            what = "both"
        elif self.conversion_bytes or self.export_bytes:
            what = "conversion" if self.conversion_bytes else "export"
        else:
            return None
        return msg(
            "training.preview.first_use", size=size, what=msg(f"training.preview.first_use_{what}")
        )


@dataclass(frozen=True)
class TrainingPlan:
    """Everything the /train preview shows, and what Start needs."""

    plan_id: str
    params: TrainingParams
    model: ModelSpec | LocalBaseModel | None
    training: FileCheck
    validation: FileCheck | None
    param_problems: tuple[Message, ...]
    estimate: CostEstimate | TimeEstimate | None

    @property
    def problem_count(self) -> int:
        validation = self.validation.problem_count if self.validation else 0
        return len(self.param_problems) + self.training.problem_count + validation

    @property
    def ok(self) -> bool:
        """True when OpenAI should accept the job: no problem in the files or the parameters."""
        return self.problem_count == 0 and self.model is not None

    @property
    def problems(self) -> list[str]:
        """Parameter problems, then the files' problems, in English."""
        return [str(problem) for problem in self.problem_messages]

    @property
    def problem_messages(self) -> list[Message]:
        """:attr:`problems` for a reader, as catalogue messages (``render(language)``)."""
        return [*self.param_problems, *(problem.full_message for problem in self.file_problems)]

    @property
    def file_problems(self) -> list[Problem]:
        """The shown problems of the training file, then the validation file's; each has a
        catalogue ``full_message`` ("train.jsonl line 4: ..." / "train.jsonl 4行目: ...")."""
        found = list(self.training.problems)
        if self.validation:
            found += self.validation.problems
        return found

    @property
    def warnings(self) -> list[str]:
        return [str(warning) for warning in self.warning_messages]

    @property
    def warning_messages(self) -> list[Message]:
        """What OpenAI will do that staff may not expect (truncate long examples), as messages."""
        found = []
        for check in (self.training, self.validation):
            if (
                check
                and check.tokens
                and check.tokens.over_limit_lines
                and isinstance(self.model, ModelSpec)
            ):
                over = check.tokens.over_limit_lines
                found.append(
                    msg(
                        "datacheck.plan.truncated",
                        file=check.file,
                        count=len(over),
                        tokens=self.model.max_tokens_per_example,
                        lines=", ".join(str(n) for n in over[:SHOWN_TRUNCATED_LINES]),
                    )
                )
        return found


def prepare_plan(
    training: bytes,
    *,
    training_filename: str,
    params: TrainingParams,
    models: Mapping[str, ModelSpec] | Mapping[str, LocalBaseModel],
    validation: bytes | None = None,
    validation_filename: str = "validation.jsonl",
    max_problems: int = DEFAULT_MAX_PROBLEMS,
) -> TrainingPlan:
    """Check everything and estimate the cost (OpenAI) or the time (``params.backend`` local;
    ``models`` are then the trainer's base models).

    CPU-bound (token counting): from async code use :func:`aprepare_plan`.
    """
    model = models.get(params.base_model)
    training_check = _check_file(training, training_filename, model, max_problems)
    validation_check = (
        _check_file(validation, validation_filename, model, max_problems)
        if validation is not None
        else None
    )
    estimate: CostEstimate | TimeEstimate | None = None
    epochs_auto = params.epochs == "auto"
    if isinstance(model, LocalBaseModel) and training_check.valid_examples:
        epochs = auto_epochs(training_check.valid_examples) if epochs_auto else int(params.epochs)
        validation_chars = validation_check.chars if validation_check else 0
        work = (training_check.chars + validation_chars * VALIDATION_COST_SHARE) * epochs
        estimate = TimeEstimate(
            chars_per_epoch=training_check.chars,
            epochs=epochs,
            epochs_auto=epochs_auto,
            chars_per_second=model.chars_per_second,
            throughput_measured=model.throughput_measured,
            device=model.device,
            seconds=work / model.chars_per_second if model.chars_per_second else None,
            memory_bytes=model.memory_bytes(full=params.full_fine_tune),
            disk_bytes=model.disk_bytes(
                full=params.full_fine_tune, lora_rank=params.lora_rank, merge=params.merge
            ),
            throughput_runs=model.throughput_runs,
            conversion_bytes=model.conversion_bytes,
            # A full fine-tune is exported whole, not on its base: its own GGUF, every time.
            export_bytes=None if params.full_fine_tune else model.export_bytes,
        )
    elif isinstance(model, ModelSpec) and training_check.tokens is not None:
        epochs = auto_epochs(training_check.valid_examples) if epochs_auto else int(params.epochs)
        billed = training_check.tokens.billed_tokens
        estimate = CostEstimate(
            billed_tokens_per_epoch=billed,
            epochs=epochs,
            epochs_auto=epochs_auto,
            trained_tokens=billed * epochs,
            usd_per_1m_tokens=model.training_usd_per_1m_tokens,
            usd=billed * epochs * model.training_usd_per_1m_tokens / 1_000_000,
        )
    return TrainingPlan(
        plan_id=uuid.uuid4().hex,
        params=params,
        model=model,
        training=training_check,
        validation=validation_check,
        param_problems=tuple(params.problems(models)),
        estimate=estimate,
    )


async def aprepare_plan(training: bytes, **kwargs: object) -> TrainingPlan:
    """:func:`prepare_plan` in a worker thread, so a big file does not stall the bot."""
    return await asyncio.to_thread(prepare_plan, training, **kwargs)  # type: ignore[arg-type]


def chat_characters(messages: Sequence[Mapping[str, Any]]) -> int:
    """The characters of an example's chat text: every message's content."""
    return sum(len(m["content"]) for m in messages if isinstance(m.get("content"), str))


def _check_file(
    data: bytes, file: str, model: ModelSpec | LocalBaseModel | None, max_problems: int
) -> FileCheck:
    # Only OpenAI's models have a known per-example token limit and tokenizer here.
    spec = model if isinstance(model, ModelSpec) else None
    report = validate_chat_jsonl(
        data,
        file=file,
        max_problems=max_problems,
        max_tokens_per_example=spec.max_tokens_per_example if spec is not None else None,
    )
    return FileCheck(
        file=file,
        sha256=hashlib.sha256(data).hexdigest(),
        lines=report.lines,
        valid_examples=len(report.examples),
        problems=tuple(report.problems),
        problem_count=report.problem_count,
        tokens=_token_stats(report.examples, spec)
        if spec is not None and report.examples
        else None,
        chars=sum(chat_characters(e.messages) for e in report.examples),
    )


def _token_stats(examples: list[Example], model: ModelSpec) -> TokenStats:
    counts = [count_example_tokens(e.messages, model.encoding) for e in examples]
    limit = model.max_tokens_per_example
    return TokenStats(
        examples=len(counts),
        total_tokens=sum(counts),
        min_tokens=min(counts),
        max_tokens=max(counts),
        mean_tokens=statistics.fmean(counts),
        median_tokens=statistics.median(counts),
        assistant_tokens=sum(count_assistant_tokens(e.messages, model.encoding) for e in examples),
        billed_tokens=sum(min(c, limit) for c in counts),
        over_limit_lines=tuple(e.line for e, c in zip(examples, counts, strict=True) if c > limit),
    )
