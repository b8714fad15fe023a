"""The training process: one per job, started by the trainer's runner.

    python -m trainer.worker /abs/job_dir/spec.json

It fine-tunes the spec's base model on the training file (LoRA on every linear layer by default,
or the whole model) and reports through ``job_dir/progress.jsonl``, one JSON object per line
(trainer/progress.py reads it and checks every field; README "Training without a cloud account"):
``started``, ``warning``, ``metrics`` (every step), ``checkpoint`` (every epoch, once the state
to resume from is on disk), then ``succeeded`` (the model folder and results.csv are complete)
or ``failed`` (an English message for staff naming the file, line or field; exit code 1).

Started again with the same spec, it resumes from the newest checkpoint and ends with the same
weights as a run that was never interrupted: the data order of each epoch comes from the seed
and the epoch alone, and the checkpoint holds the weights, the optimizer, the schedule and the
random state.

The loop is plain PyTorch rather than transformers' Trainer or TRL's SFTTrainer (measured in
bench/local_train.py): batches are bucketed by length so little is padding, and the output
layer only computes the logits of the tokens that are trained (the assistant's), which for
Gemma's 262k-word vocabulary is most of the model's work.

When the runner keeps our stdin as a pipe, a thread ends this process as soon as that pipe
closes: a runner that dies (even by kill -9) leaves no training behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import resource
import shutil
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer.chat_data import (
    IGNORED,
    ChatExample,
    ChatTemplateError,
    TokenizedExample,
    TrainingDataError,
    most_common_system_prompt,
    read_chat_examples,
    tokenize_example,
)
from trainer.cpu_share import ThreadBudget, lower_priority, niceness_from_environment

DEFAULT_LEARNING_RATES = {"lora": 1e-3, "full": 1e-5}
WARMUP_FRACTION = 0.03
MAX_GRAD_NORM = 1.0
DEFAULT_MAX_LENGTH = 2048  # tokens per example; longer ones are cut (with a warning)
BUCKET_BATCHES = 16  # batches sorted by length together: low padding, still a shuffled order
EXIT_RUNNER_GONE = 3
PROBE_TOKENS = 64  # of the example that checks the output-layer shortcut
STATE_FILE = "training_state.pt"
OPTIMIZER_FILE = "optimizer.pt"
RESULT_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")


class WorkerFailure(Exception):
    """The job cannot go on; the message is for staff (English, naming file, line or field)."""


# --- the spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseModelSpec:
    name: str
    source: str
    chat_template: str | None


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int
    learning_rate: float | None
    lora_rank: int
    batch_size: int
    seed: int


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    model_name: str
    base_model: BaseModelSpec
    training_file: Path
    validation_file: Path | None
    method: str
    hyperparameters: Hyperparameters
    merge: bool
    device: str
    job_dir: Path
    model_dir: Path
    max_length: int = DEFAULT_MAX_LENGTH
    threads: int | None = None

    @property
    def learning_rate(self) -> float:
        rate = self.hyperparameters.learning_rate
        return DEFAULT_LEARNING_RATES[self.method] if rate is None else rate

    @classmethod
    def from_json(cls, data: Any) -> JobSpec:
        def need(mapping: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
            value = mapping.get(key) if isinstance(mapping, dict) else None
            if isinstance(value, bool) and kind is not bool:
                value = None
            if not isinstance(value, kind):
                raise WorkerFailure(f"spec.json: field '{where}{key}' is missing or invalid")
            return value

        def optional(mapping: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
            return None if mapping.get(key) is None else need(mapping, key, kind, where)

        base = need(data, "base_model", dict)
        hyper = need(data, "hyperparameters", dict)
        method = need(data, "method", str)
        if method not in DEFAULT_LEARNING_RATES:
            raise WorkerFailure(f"spec.json: field 'method' must be lora or full, got {method!r}")
        device = data.get("device") or "auto"
        if device not in ("auto", "cpu", "cuda"):
            raise WorkerFailure(f"spec.json: field 'device' must be auto, cpu or cuda: {device!r}")
        validation = optional(data, "validation_file", str)
        hyperparameters = Hyperparameters(
            n_epochs=need(hyper, "n_epochs", int, "hyperparameters."),
            learning_rate=optional(hyper, "learning_rate", (int, float), "hyperparameters."),
            lora_rank=optional(hyper, "lora_rank", int, "hyperparameters.") or 16,
            batch_size=optional(hyper, "batch_size", int, "hyperparameters.") or 4,
            seed=optional(hyper, "seed", int, "hyperparameters.") or 0,
        )
        for name in ("n_epochs", "lora_rank", "batch_size"):
            if getattr(hyperparameters, name) < 1:
                raise WorkerFailure(f"spec.json: field 'hyperparameters.{name}' must be >= 1")
        rate = hyperparameters.learning_rate
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise WorkerFailure("spec.json: field 'hyperparameters.learning_rate' must be > 0")
        return cls(
            job_id=need(data, "job_id", str),
            model_name=need(data, "model_name", str),
            base_model=BaseModelSpec(
                name=need(base, "name", str, "base_model."),
                source=need(base, "source", str, "base_model."),
                chat_template=optional(base, "chat_template", str, "base_model."),
            ),
            training_file=Path(need(data, "training_file", str)),
            validation_file=Path(validation) if validation else None,
            method=method,
            hyperparameters=hyperparameters,
            merge=bool(data.get("merge")),
            device=device,
            job_dir=Path(need(data, "job_dir", str)),
            model_dir=Path(need(data, "model_dir", str)),
            max_length=optional(data, "max_length", int) or DEFAULT_MAX_LENGTH,
            threads=optional(data, "threads", int),
        )


# --- progress lines -------------------------------------------------------------------------


class Progress:
    """Appends one JSON object per line to progress.jsonl, flushed at once."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        # A run killed in the middle of a line left it unfinished: start ours on a new line.
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            self._file.write("\n")

    def write(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, **fields, "time": time.time()}, ensure_ascii=False)
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def die_with_the_runner() -> None:
    """End this process when stdin (a pipe the runner holds) reaches EOF: the runner is gone."""
    try:
        is_pipe = stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return
    if not is_pipe:
        return  # started by hand (a terminal or /dev/null): nobody to outlive

    def watch() -> None:
        while os.read(0, 4096):
            pass
        os._exit(EXIT_RUNNER_GONE)

    threading.Thread(target=watch, name="die-with-the-runner", daemon=True).start()


# --- loading --------------------------------------------------------------------------------


def choose_device(requested: str) -> tuple[torch.device, torch.dtype]:
    """The device and the dtype the forward pass computes in: bf16 on CUDA, fp32 on CPU."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise WorkerFailure("device 'cuda' was asked for but this machine has no usable CUDA GPU")
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def load_base(base: BaseModelSpec, *, method: str, device: torch.device) -> tuple[Any, Any]:
    """The tokenizer and the model, or :class:`WorkerFailure` naming what is wrong."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.base_models import is_local_source

    source = base.source
    if is_local_source(source):
        folder = Path(source).absolute()
        source = str(folder)
        if not folder.exists() and _is_packaged_gemma(base):
            from trainer.gemma_package import GemmaPackageError, convert

            try:
                convert(folder)
            except GemmaPackageError as exc:
                raise WorkerFailure(f"base model {base.name!r}: {exc}") from exc
        if not folder.is_dir():
            raise WorkerFailure(f"base model {base.name!r}: folder {folder} does not exist")
        if not (folder / "config.json").is_file():
            raise WorkerFailure(f"base model {base.name!r}: folder {folder} has no config.json")
    # LoRA leaves the base untouched: on a GPU it can sit in bf16. Full fine-tuning keeps fp32
    # weights (AdamW's updates are lost in bf16) and computes in bf16 under autocast.
    dtype = torch.bfloat16 if device.type == "cuda" and method == "lora" else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except Exception as exc:  # any library error: say which model and why
        raise WorkerFailure(
            f"base model {base.name!r} ({source}) cannot be loaded: {_short(exc)}"
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise WorkerFailure(
            f"base model {base.name!r}: its tokenizer has no fast (tokenizers) version, which"
            " the trainer needs to find the assistant's tokens"
        )
    if base.chat_template:
        tokenizer.chat_template = base.chat_template
    if not tokenizer.chat_template:
        raise WorkerFailure(
            f"base model {base.name!r} has no chat template: give one in LOCAL_BASE_MODELS"
            " (field 'chat_template')"
        )
    return tokenizer, model.to(device)


def _is_packaged_gemma(base: BaseModelSpec) -> bool:
    from trainer.base_models import GEMMA_3_270M

    return base.name == GEMMA_3_270M and Path(base.source).name == GEMMA_3_270M


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def tokenized_file(
    path: Path, *, name: str, tokenizer: Any, max_length: int, progress: Progress
) -> tuple[list[ChatExample], list[TokenizedExample]]:
    examples = read_chat_examples(path, name=name)
    try:
        tokenized = [tokenize_example(tokenizer, ex, max_length=max_length) for ex in examples]
    except ChatTemplateError as exc:
        raise WorkerFailure(f"{name}: {exc}") from exc
    cut = [example for example in tokenized if example.truncated]
    if cut:
        lines = ", ".join(str(example.line) for example in cut[:10])
        more = f" and {len(cut) - 10} more" if len(cut) > 10 else ""
        progress.write(
            "warning",
            message=f"{name}: {len(cut)} example(s) longer than {max_length} tokens were cut"
            f" to that length (lines {lines}{more})",
        )
    untrained = [example for example in tokenized if example.trained_tokens == 0]
    if untrained:
        lines = ", ".join(str(example.line) for example in untrained[:10])
        progress.write(
            "warning",
            message=f"{name}: {len(untrained)} example(s) have no assistant tokens to learn"
            f" within {max_length} tokens (lines {lines})",
        )
    return examples, tokenized


# --- the model being trained ----------------------------------------------------------------


def prepare_for_training(model: Any, *, method: str, rank: int, seed: int) -> Any:
    if method == "full":
        model.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)  # the LoRA A matrices start random
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [parameter for parameter in model.parameters() if parameter.requires_grad]


class AssistantLoss:
    """Loss and accuracy on the trained tokens, computing only their logits when it can.

    The decoder's last hidden states go through the output layer only where a label follows
    (most tokens are the system text and the user's words). Whether the model's own forward
    does anything more to its logits (scaling, soft-capping) is checked once, on the first
    batch: if the results differ, every step uses the model's own forward.
    """

    def __init__(self, model: Any, *, autocast_dtype: torch.dtype | None):
        causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
        self._model = model
        self._decoder = causal_lm.get_decoder()
        self._head = causal_lm.get_output_embeddings()
        self._autocast = autocast_dtype
        self._checked = False
        self.selective = True

    def __call__(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int, int]:
        """(mean loss, correct predictions, trained tokens) of a batch."""
        if not self._checked:
            self._checked = True
            self.selective = self._selective_matches(batch)
        targets, logits = self._logits(batch, selective=self.selective)
        if targets.numel() == 0:
            zero = sum(p.sum() for p in trainable_parameters(self._model)) * 0.0
            return zero, 0, 0
        loss = nn.functional.cross_entropy(logits.float(), targets)
        correct = int((logits.argmax(dim=-1) == targets).sum())
        return loss, correct, targets.numel()

    def _logits(
        self, batch: dict[str, torch.Tensor], *, selective: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        labels = batch["labels"]
        predicting = torch.zeros_like(labels, dtype=torch.bool)
        predicting[:, :-1] = labels[:, 1:] != IGNORED
        targets = labels[:, 1:][labels[:, 1:] != IGNORED]
        with self._autocast_context():
            if selective:
                hidden = self._decoder(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).last_hidden_state
                logits = self._head(hidden[predicting])
            else:
                logits = self._model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).logits[predicting]
        return targets, logits

    def _selective_matches(self, batch: dict[str, torch.Tensor]) -> bool:
        # On the first example's first tokens, every position compared: cheap next to a step.
        ids = batch["input_ids"][:1, :PROBE_TOKENS]
        mask = batch["attention_mask"][:1, :PROBE_TOKENS]
        probe = {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": ids.masked_fill(mask == 0, IGNORED),
        }
        with torch.no_grad():
            try:
                _, fast = self._logits(probe, selective=True)
            except (AttributeError, TypeError):
                return False
            _, full = self._logits(probe, selective=False)
        return fast.shape == full.shape and torch.allclose(
            fast.float(), full.float(), rtol=1e-3, atol=1e-3
        )

    def _autocast_context(self) -> Any:
        if self._autocast is None:
            return torch.autocast("cpu", enabled=False)
        return torch.autocast("cuda", dtype=self._autocast)


# --- batches --------------------------------------------------------------------------------


def epoch_batches(lengths: list[int], batch_size: int, *, seed: int, epoch: int) -> list[list[int]]:
    """The example indices of each batch of an epoch: shuffled, then sorted by length within
    groups of ``BUCKET_BATCHES`` batches so a batch holds examples of similar length; the order
    depends on the seed and the epoch only (a resumed run sees the same batches)."""
    order = list(range(len(lengths)))
    chooser = random.Random(seed * 1_000_003 + epoch)
    chooser.shuffle(order)
    group = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), group):
        bucket = sorted(order[start : start + group], key=lambda index: lengths[index])
        batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]
    chooser.shuffle(batches)
    return batches


def collate(
    examples: list[TokenizedExample], *, pad_id: int, device: torch.device
) -> dict[str, torch.Tensor]:
    width = max(len(example.input_ids) for example in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORED, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    return {
        "input_ids": ids.to(device),
        "labels": labels.to(device),
        "attention_mask": mask.to(device),
    }


# --- checkpoints ----------------------------------------------------------------------------


@dataclass
class RunState:
    """What a checkpoint holds besides weights and optimizer."""

    step: int = 0
    epoch: int = 0  # epochs completed
    tokens: int = 0
    chars: int = 0
    train_seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)  # results.csv so far


def weights_folder(method: str) -> str:
    return "adapter" if method == "lora" else "full"


def newest_checkpoint(job_dir: Path) -> Path | None:
    """The newest checkpoint that can be resumed from (complete: renamed into place)."""
    found = []
    for path in (job_dir / "checkpoints").glob("step-*"):
        step = path.name.removeprefix("step-")
        if step.isdigit() and (path / STATE_FILE).is_file() and (path / OPTIMIZER_FILE).is_file():
            found.append((int(step), path))
    return max(found)[1] if found else None


def save_checkpoint(
    job_dir: Path, *, model: Any, optimizer: Any, scheduler: Any, state: RunState, method: str
) -> Path:
    """Write the checkpoint to a temporary folder, then rename it into place (atomic)."""
    checkpoints = job_dir / "checkpoints"
    final = checkpoints / f"step-{state.step}"
    temporary = checkpoints / f".step-{state.step}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    model.save_pretrained(temporary / weights_folder(method))
    torch.save(optimizer.state_dict(), temporary / OPTIMIZER_FILE)
    random_state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        random_state["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(
        {"run": state.__dict__, "scheduler": scheduler.state_dict(), "random": random_state},
        temporary / STATE_FILE,
    )
    _sync_tree(temporary)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    # Older checkpoints stay (their weights are servable) but are no longer resumed from:
    # their optimizer state (twice the trainable weights) goes.
    for older in checkpoints.glob("step-*"):
        if older != final:
            (older / OPTIMIZER_FILE).unlink(missing_ok=True)
    return final


def _sync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


# --- the job --------------------------------------------------------------------------------


def peak_memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def results_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: _cell(row.get(column)) for column in RESULT_COLUMNS})
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def evaluate(
    model: Any,
    loss: AssistantLoss,
    examples: list[TokenizedExample],
    *,
    batch_size: int,
    pad_id: int,
    device: torch.device,
) -> tuple[float | None, float | None]:
    """Mean loss and token accuracy over the trained tokens of ``examples``."""
    order = sorted(range(len(examples)), key=lambda index: len(examples[index].input_ids))
    total_loss, correct, tokens = 0.0, 0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = [examples[index] for index in order[start : start + batch_size]]
            batch_loss, batch_correct, batch_tokens = loss(
                collate(chunk, pad_id=pad_id, device=device)
            )
            total_loss += float(batch_loss) * batch_tokens
            correct += batch_correct
            tokens += batch_tokens
    model.train()
    if not tokens:
        return None, None
    return total_loss / tokens, correct / tokens


def train(spec: JobSpec, progress: Progress) -> None:
    budget = ThreadBudget.from_environment(spec.threads or os.cpu_count() or 1)
    threads = budget.threads_now()
    torch.set_num_threads(threads)
    device, compute_dtype = choose_device(spec.device)
    method = spec.method
    hyper = spec.hyperparameters
    tokenizer, model = load_base(spec.base_model, method=method, device=device)
    max_length = min(
        spec.max_length, getattr(model.config, "max_position_embeddings", None) or spec.max_length
    )
    training_name = spec.training_file.name
    try:
        chat_examples, examples = tokenized_file(
            spec.training_file,
            name=training_name,
            tokenizer=tokenizer,
            max_length=max_length,
            progress=progress,
        )
        validation: list[TokenizedExample] = []
        if spec.validation_file is not None:
            _, validation = tokenized_file(
                spec.validation_file,
                name=spec.validation_file.name,
                tokenizer=tokenizer,
                max_length=max_length,
                progress=progress,
            )
    except TrainingDataError as exc:
        raise WorkerFailure(str(exc)) from exc

    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    model = prepare_for_training(model, method=method, rank=hyper.lora_rank, seed=hyper.seed)
    model.train()
    steps_per_epoch = math.ceil(len(examples) / hyper.batch_size)
    total_steps = steps_per_epoch * hyper.n_epochs
    optimizer = torch.optim.AdamW(
        trainable_parameters(model), lr=spec.learning_rate, weight_decay=0.0
    )
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(total_steps * WARMUP_FRACTION), total_steps
    )
    state = RunState()
    resumed = newest_checkpoint(spec.job_dir)
    if resumed is not None:
        model, state = _resume(resumed, model, optimizer, scheduler, spec=spec, device=device)
    else:
        torch.manual_seed(hyper.seed)
    loss = AssistantLoss(model, autocast_dtype=compute_dtype if device.type == "cuda" else None)
    progress.write(
        "started",
        device=device.type,
        dtype=str(compute_dtype).removeprefix("torch."),
        examples=len(examples),
        total_steps=total_steps,
        n_epochs=hyper.n_epochs,
        trainable_parameters=sum(p.numel() for p in trainable_parameters(model)),
        resumed_from_step=state.step if resumed is not None else None,
    )

    lengths = [len(example.input_ids) for example in examples]
    for epoch in range(state.epoch, hyper.n_epochs):
        started = time.perf_counter()
        last: dict[str, Any] = {}
        for indices in epoch_batches(lengths, hyper.batch_size, seed=hyper.seed, epoch=epoch):
            wanted = budget.threads_now()
            if wanted != threads:  # robots started or stopped chatting
                threads = wanted
                torch.set_num_threads(threads)
            chunk = [examples[index] for index in indices]
            batch = collate(chunk, pad_id=pad_id, device=device)
            step_loss, correct, tokens = loss(batch)
            optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable_parameters(model), MAX_GRAD_NORM)
            optimizer.step()
            scheduler.step()
            state.step += 1
            state.tokens += int(batch["attention_mask"].sum())
            state.chars += sum(example.chars for example in chunk)
            last = {
                "step": state.step,
                "train_loss": float(step_loss.detach()),
                "train_accuracy": correct / tokens if tokens else None,
            }
            state.rows.append(dict(last))
            progress.write(
                "metrics",
                step=state.step,
                total_steps=total_steps,
                epoch=epoch + 1,
                train_loss=last["train_loss"],
                train_mean_token_accuracy=last["train_accuracy"],
                tokens=state.tokens,
                chars=state.chars,
                threads=threads,
            )
        state.train_seconds += time.perf_counter() - started
        valid_loss = valid_accuracy = None
        if validation:
            valid_loss, valid_accuracy = evaluate(
                model, loss, validation, batch_size=hyper.batch_size, pad_id=pad_id, device=device
            )
            state.rows[-1].update(valid_loss=valid_loss, valid_mean_token_accuracy=valid_accuracy)
        state.epoch = epoch + 1
        save_checkpoint(
            spec.job_dir,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            state=state,
            method=method,
        )
        progress.write(
            "checkpoint",
            step=state.step,
            epoch=epoch + 1,
            metrics={
                "train_loss": last.get("train_loss"),
                "train_mean_token_accuracy": last.get("train_accuracy"),
                "valid_loss": valid_loss,
                "valid_mean_token_accuracy": valid_accuracy,
            },
        )

    write_atomically(spec.job_dir / "results.csv", results_csv(state.rows))
    save_model(
        spec,
        model=model,
        tokenizer=tokenizer,
        system_prompt=most_common_system_prompt(chat_examples),
    )
    progress.write(
        "succeeded",
        trained_tokens=state.tokens,
        chars_per_second=state.chars / state.train_seconds if state.train_seconds else None,
        peak_memory_bytes=peak_memory_bytes(device),
    )


def _resume(
    checkpoint: Path,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    *,
    spec: JobSpec,
    device: torch.device,
) -> tuple[Any, RunState]:
    saved = torch.load(checkpoint / STATE_FILE, weights_only=True)
    weights = checkpoint / weights_folder(spec.method)
    if spec.method == "lora":
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        set_peft_model_state_dict(model, load_peft_weights(str(weights), device=str(device)))
    else:
        from safetensors.torch import load_file

        state_dict: dict[str, torch.Tensor] = {}
        for shard in sorted(weights.glob("*.safetensors")):
            state_dict.update(load_file(shard, device=str(device)))
        missing, _ = model.load_state_dict(state_dict, strict=False)
        tied = {name for name in missing if name.endswith("lm_head.weight")}
        if set(missing) - tied:
            raise WorkerFailure(f"checkpoint {checkpoint} misses weights: {sorted(missing)[:3]}")
    optimizer.load_state_dict(torch.load(checkpoint / OPTIMIZER_FILE, weights_only=True))
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["random"]["torch"])
    if "cuda" in saved["random"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["random"]["cuda"])
    return model, RunState(**saved["run"])


def save_model(spec: JobSpec, *, model: Any, tokenizer: Any, system_prompt: str | None) -> None:
    """Write ``model_dir`` (weights, tokenizer, kobo-model.json) to a temporary folder, then
    rename it into place: a reader sees the whole folder or none of it."""
    final = spec.model_dir
    temporary = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    weights = temporary / weights_folder(spec.method)
    model.save_pretrained(weights)
    tokenizer.save_pretrained(weights)
    if spec.merge and spec.method == "lora":
        merged = model.merge_and_unload()
        merged.save_pretrained(temporary / "merged")
        tokenizer.save_pretrained(temporary / "merged")
    description = {
        "model": spec.model_name,
        "job_id": spec.job_id,
        "base_model": spec.base_model.name,
        "base_source": spec.base_model.source,
        "method": spec.method,
        "chat_template": tokenizer.chat_template,
        "system_prompt": system_prompt,
        "created_at": int(time.time()),
    }
    (temporary / "kobo-model.json").write_text(
        json.dumps(description, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    _sync_tree(temporary)
    if final.exists():  # left by a run that died between this rename and its last line
        shutil.rmtree(final)
    os.replace(temporary, final)


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m trainer.worker /abs/job_dir/spec.json", file=sys.stderr)
        return 2
    die_with_the_runner()
    niceness = niceness_from_environment()
    if niceness is not None:
        lower_priority(niceness)  # the runner set the first thread's; torch started others
    spec_path = Path(args[0])
    try:
        data = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        progress = Progress(spec_path.parent / "progress.jsonl")
        progress.write("failed", error=f"spec {spec_path} cannot be read: {_short(exc)}")
        return 1
    given = data.get("job_dir") if isinstance(data, dict) else None
    job_dir = Path(given) if isinstance(given, str) and given.startswith("/") else spec_path.parent
    progress = Progress(job_dir / "progress.jsonl")
    try:
        train(JobSpec.from_json(data), progress)
    except WorkerFailure as exc:
        progress.write("failed", error=str(exc))
        return 1
    except Exception as exc:
        if not _is_out_of_memory(exc):
            raise
        progress.write(
            "failed",
            error="out of memory while training: try a smaller batch_size, LoRA instead of full"
            f" fine-tuning, or a smaller base model ({_short(exc)})",
        )
        return 1
    finally:
        progress.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
