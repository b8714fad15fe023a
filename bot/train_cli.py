"""``python -m bot train DATA.jsonl [--backend local|openai] ...``: the same fine-tuning as /train,
from a shell, with a progress bar.

Local first, as /train: kobo's trainer is started inside this process (as ``python -m bot``
does), or the one at TRAINER_URL is used. ``--backend openai`` fine-tunes on OpenAI with
OPENAI_API_KEY, for organisations OpenAI still offers fine-tuning to. The job is not recorded in
kobo's job list (no channel to tell); its model is in DATA_DIR/models/ (OpenAI's: on OpenAI) and
can be assigned by name with /assign. Exit status: 0 succeeded, 1 failed or cancelled (Ctrl-C
cancels the job), 2 bad input or settings. kobo's own messages follow ``KOBO_LANGUAGE``, else the
locale; argparse's usage and help stay English.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import stat
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import openai
from openai import AsyncOpenAI
from openai.types.fine_tuning import FineTuningJob
from tqdm import tqdm

from augment.job import training_jsonl
from bot.quantities import byte_size, estimated_time
from config.settings import TrainCommandSettings, load_settings
from finetune.backends import (
    BACKENDS,
    Backend,
    BackendName,
    make_openai_client,
    make_trainer_client,
)
from finetune.local_models import LocalBaseModel, LocalServing
from finetune.models import ModelSpec, ModelTableError, load_model_table
from finetune.plan import (
    MAX_LORA_RANK,
    CostEstimate,
    TimeEstimate,
    TrainingParams,
    TrainingPlan,
    aprepare_plan,
)
from finetune.service import (
    list_local_base_models,
    require_client,
    status_text,
    submit_job,
    translate_error,
)
from i18n import Language, LocalizedError, language_from_env, msg, text
from storage.database import Database
from storage.files import FileTooBig, read_bounded
from trainer.base_models import BaseModelTableError
from trainer.server import TrainerConfigError, TrainerHandle, start_trainer

EXIT_SUCCEEDED, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
FINISHED = ("succeeded", "failed", "cancelled")
# How often the job is looked at: the local trainer is on this machine; OpenAI's jobs take
# minutes to hours and every look is an API call.
POLL_SECONDS = {"local": 1.0, "openai": 10.0}
# How long the bot's own trainer gets to answer when it holds TRAINER_PORT.
RUNNING_TRAINER_SECONDS = 10.0
EVENTS_PAGE = 20


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="fine-tune a model on this machine (as /train), or on OpenAI",
        description="Fine-tune a base model on chat JSONL (or a sheet, read as /augment reads "
        "it) with kobo's own trainer: started in this process, or the one at TRAINER_URL; "
        "or on OpenAI with --backend openai. Prints the new model's name. Ctrl-C cancels the "
        "training.",
    )
    parser.add_argument("data", type=Path, help="training data: chat .jsonl, .xlsx, .csv, .tsv")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="where to train: local (kobo's trainer, the default) or openai (OPENAI_API_KEY)",
    )
    parser.add_argument("--base-model", help="a base model name (default: the backend's first)")
    parser.add_argument("--epochs", type=int, help="passes over the data (default: auto)")
    parser.add_argument("--suffix", help="added to the new model's name")
    parser.add_argument("--seed", type=int, help="for a run that can be repeated")
    parser.add_argument("--validation", type=Path, help="validation data (.jsonl or a sheet)")
    parser.add_argument("--lora-rank", type=int, help=f"LoRA rank, 1..{MAX_LORA_RANK}")
    parser.add_argument("--full", action="store_true", help="train all weights, not a LoRA")
    parser.add_argument("--merge", action="store_true", help="also save the LoRA merged in")


def run_train(args: argparse.Namespace) -> int:
    settings = load_settings(TrainCommandSettings)
    language = settings.kobo_language or language_from_env()
    try:
        return asyncio.run(_train(args, settings, language))
    except LocalizedError as refused:
        print(f"kobo train: {refused.render(language)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # before any job was started: nothing to cancel
        return 130


async def _train(args: argparse.Namespace, settings: TrainCommandSettings, language: Language):
    training, name = await _read_data(args.data, settings)
    validation = validation_name = None
    if args.validation is not None:
        validation, validation_name = await _read_data(args.validation, settings)
    async with _backend(settings, args.backend) as backend:
        models = await _base_models(backend, settings)
        params = TrainingParams(
            base_model=args.base_model or next(iter(models), ""),
            epochs=args.epochs if args.epochs is not None else "auto",
            suffix=args.suffix,
            seed=args.seed,
            backend=backend.name,
            lora_rank=args.lora_rank,
            full_fine_tune=args.full,
            merge=args.merge,
        )
        plan = await aprepare_plan(
            training,
            training_filename=name,
            params=params,
            models=models,
            validation=validation,
            validation_filename=validation_name or "validation.jsonl",
        )
        if not plan.ok:
            for problem in plan.problem_messages:
                print(f"kobo train: {problem.render(language)}", file=sys.stderr)
            print(text("training.cli.fix_problems", language), file=sys.stderr)
            return EXIT_BAD_INPUT
        print(_plan_summary(plan, language), file=sys.stderr)
        submitted = await submit_job(
            backend,
            plan,
            training,
            name,
            validation_bytes=validation,
            validation_filename=validation_name or "validation.jsonl",
        )
        job = await _follow(backend, submitted.job, language)
    if job.status == "succeeded":
        print(job.fine_tuned_model)
        return EXIT_SUCCEEDED
    if job.status == "cancelled":
        print(text("training.cli.cancelled", language, job=job.id), file=sys.stderr)
    else:
        reason = (
            job.error.message if job.error else text("training.notice.no_reason_local", language)
        )
        print(text("training.cli.failed", language, job=job.id, reason=reason), file=sys.stderr)
    return EXIT_FAILED


async def _read_data(path: Path, settings: TrainCommandSettings) -> tuple[bytes, str]:
    """The file as chat JSONL (a sheet converted as /train converts it) and its name."""
    limit = settings.trainer_max_file_bytes
    try:
        data = await asyncio.to_thread(_read_regular_file, path, limit)
    except FileTooBig as exc:
        raise LocalizedError(
            msg(
                "training.error.file_too_big",
                file=path.name,
                size=f"{exc.size:,}",
                limit=f"{limit:,}",
            )
        ) from None
    except OSError as exc:
        raise LocalizedError(
            msg("training.cli.cannot_read", path=str(path), reason=exc.strerror or str(exc))
        ) from None
    return await asyncio.to_thread(training_jsonl, data, path.name, settings)


def _read_regular_file(path: Path, limit: int) -> bytes:
    if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or /dev/zero would never end
        raise LocalizedError(msg("training.cli.not_a_file", path=str(path)))
    return read_bounded(path, limit)


@contextlib.asynccontextmanager
async def _backend(settings: TrainCommandSettings, name: BackendName) -> AsyncIterator[Backend]:
    """The backend to train on, for as long as the command runs."""
    if name == "local":
        async with _trainer_backend(settings) as backend:
            yield backend
        return
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    client = make_openai_client(
        key,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
    )
    backend = Backend("openai", client)
    require_client(backend)  # no key: say which setting to fill
    try:
        yield backend
    finally:
        await backend.close()


async def _base_models(
    backend: Backend, settings: TrainCommandSettings
) -> Mapping[str, LocalBaseModel] | Mapping[str, ModelSpec]:
    """The trainer's base models, or OpenAI's from the model table (FINETUNE_MODELS)."""
    if backend.name == "local":
        return await list_local_base_models(backend, LocalServing.from_settings(settings))
    try:
        return await asyncio.to_thread(load_model_table, settings.finetune_models)
    except ModelTableError as exc:
        raise LocalizedError(msg("training.cli.model_table_refused", reason=str(exc))) from None


@contextlib.asynccontextmanager
async def _trainer_backend(settings: TrainCommandSettings) -> AsyncIterator[Backend]:
    """The trainer at TRAINER_URL, or one started here for as long as the command runs, or the
    one the running bot already serves on TRAINER_HOST:TRAINER_PORT (one trainer per database:
    two would both take its queued jobs)."""
    token = settings.trainer_token.get_secret_value() if settings.trainer_token else None
    url, handle, db = settings.trainer_url, None, None
    if url is None:
        db = await Database.open(settings.database_path)
        try:
            handle = await _start_trainer_here(settings, db, token)
        except BaseException:
            await db.close()
            raise
        url = handle.url if handle is not None else _trainer_address(settings)
    client = make_trainer_client(url, token)
    try:
        yield Backend("local", client)
    finally:
        await client.close()
        if handle is not None:
            await handle.stop()  # a training still running is killed
        if db is not None:
            await db.close()


def _trainer_address(settings: TrainCommandSettings) -> str:
    host = settings.trainer_host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.trainer_port}"


async def _start_trainer_here(
    settings: TrainCommandSettings, db: Database, token: str | None
) -> TrainerHandle | None:
    """A trainer started in this process; None when the port is taken by a kobo trainer that
    answers (the bot's own, LOCAL_TRAINING being on by default), which is then used."""
    try:
        return await start_trainer(settings, db)
    except OSError as exc:
        address = f"{settings.trainer_host}:{settings.trainer_port}"
        if exc.errno == errno.EADDRINUSE and await _answers_as_trainer(settings, token):
            language = settings.kobo_language or language_from_env()
            url = _trainer_address(settings)
            print(text("training.cli.using_running_trainer", language, url=url), file=sys.stderr)
            return None
        raise LocalizedError(
            msg("training.cli.port_busy", address=address, reason=exc.strerror or str(exc))
        ) from None
    except (TrainerConfigError, BaseModelTableError) as exc:
        raise LocalizedError(msg("training.cli.trainer_refused", reason=str(exc))) from None


async def _answers_as_trainer(settings: TrainCommandSettings, token: str | None) -> bool:
    client = make_trainer_client(_trainer_address(settings), token)
    try:
        page = await client.with_options(
            timeout=RUNNING_TRAINER_SECONDS, max_retries=0
        ).models.list()
    except openai.OpenAIError:
        return False
    finally:
        await client.close()
    return any(getattr(model, "kobo_trainable", False) for model in page.data)


def _plan_summary(plan: TrainingPlan, language: Language) -> str:
    estimate = plan.estimate
    if isinstance(estimate, CostEstimate):  # OpenAI's
        return text(
            "training.cli.plan_openai",
            language,
            model=plan.params.base_model,
            examples=plan.training.valid_examples,
            epochs=estimate.epochs,
            tokens=f"{estimate.trained_tokens:,}",
            usd=f"{estimate.usd:,.2f}",
        )
    assert isinstance(estimate, TimeEstimate)  # a local plan that is ok has one
    unknown = text("training.preview.unknown", language)
    summary = text(
        "training.cli.plan",
        language,
        model=plan.params.base_model,
        examples=plan.training.valid_examples,
        epochs=estimate.epochs,
        time=estimated_time(estimate.seconds, language) if estimate.seconds else unknown,
        basis=estimate.basis_message().render(language),
        needs=text(
            "training.preview.needs",
            language,
            device=estimate.device,
            memory=byte_size(estimate.memory_bytes) if estimate.memory_bytes else unknown,
            disk=byte_size(estimate.disk_bytes) if estimate.disk_bytes else unknown,
        ),
    )
    first_use = estimate.first_use_message(byte_size(estimate.first_use_bytes or 0))
    return summary if first_use is None else f"{summary}\n{first_use.render(language)}"


async def _follow(backend: Backend, job: FineTuningJob, language: Language) -> FineTuningJob:
    """Show the job's steps on stderr until it ends; the first Ctrl-C cancels it."""
    client = backend.client
    assert client is not None
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, cancel.set)
    print(text("training.cli.started", language, job=job.id), file=sys.stderr)
    try:
        with tqdm(total=0, unit="step", file=sys.stderr) as bar:
            cancelling = False
            while job.status not in FINISHED:
                if cancel.is_set() and not cancelling:
                    cancelling = True
                    print(text("training.cli.cancelling", language, job=job.id), file=sys.stderr)
                    job = await _cancel(backend, client, job)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cancel.wait(), POLL_SECONDS[backend.name])
                job = await _poll(backend, client, job, bar, language)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    return job


async def _poll(
    backend: Backend, client: AsyncOpenAI, job: FineTuningJob, bar: tqdm, language: Language
) -> FineTuningJob:
    try:
        job = await client.fine_tuning.jobs.retrieve(job.id)
        page = await client.fine_tuning.jobs.list_events(job.id, limit=EVENTS_PAGE)
    except openai.APIConnectionError as exc:
        raise translate_error(backend, exc, msg("training.doing.look_up", job_id=job.id)) from exc
    bar.set_description_str(_status_words(job.status, language), refresh=False)
    metrics = next((e.data for e in page.data if e.type == "metrics" and e.data), None)
    if isinstance(metrics, dict) and isinstance(metrics.get("total_steps"), int):
        bar.total = metrics["total_steps"]
        bar.n = int(metrics.get("step") or 0)
        if isinstance(metrics.get("train_loss"), int | float):
            bar.set_postfix(loss=f"{metrics['train_loss']:.3f}", refresh=False)
    if job.status == "succeeded" and bar.total:
        bar.n = bar.total
    bar.refresh()
    return job


async def _cancel(backend: Backend, client: AsyncOpenAI, job: FineTuningJob) -> FineTuningJob:
    try:
        return await client.fine_tuning.jobs.cancel(job.id)
    except openai.ConflictError:  # it ended meanwhile: the next poll says how
        return job
    except openai.APIError as exc:
        raise translate_error(backend, exc, msg("training.doing.cancel", job_id=job.id)) from exc


def _status_words(status: str, language: Language) -> str:
    words = status_text(status)
    return words if isinstance(words, str) else words.render(language)
