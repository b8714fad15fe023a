"""``python -m bot augment INPUT ...``: the same augmentation as /augment, from a shell.

It writes the JSONL (and ``--review``'s copy) and, with ``--store``, also stores the result as a
dataset in the bot's database, as /augment does (without it the database is not touched, so it
runs on a machine with no bot).

kobo's own messages follow ``KOBO_LANGUAGE``, else the locale (``LANG=ja_JP.UTF-8``: Japanese);
argparse's usage and help stay English.
"""

from __future__ import annotations

import argparse
import asyncio
import stat
import sys
from pathlib import Path
from typing import Annotated

from pydantic import TypeAdapter, ValidationError
from tqdm import tqdm

from augment import to_csv, to_xlsx
from augment.engine import METHODS
from augment.job import AugmentJob, AugmentRequest, ModelDownload, RowsDone, run_augment_job
from bot.shell import EXIT_BAD_INPUT, SHELL_USER, open_existing_database, protected_by
from config import AugmentSettings, DatasetStoreSettings, load_settings
from curation.augmented import store_augmented
from i18n import Language, LocalizedError, language_from_env, msg, text
from storage.datasets import Dataset, DatasetRepository
from storage.files import FileTooBig, read_bounded
from storage.outputs import Protected, safe_targets, write_outputs


def add_augment_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "augment",
        help="turn a sentence sheet into fine-tuning JSONL",
        description="Read a sheet (.xlsx, .csv, .tsv, .jsonl) and write augmented chat "
        "fine-tuning JSONL. Model and limits come from the AUGMENT_* settings.",
    )
    parser.add_argument("input", type=Path, help="the sheet to read")
    parser.add_argument("--method", choices=METHODS, default="duplicate")
    parser.add_argument(
        "--count", type=int, default=3, help="make the data up to COUNT times bigger (default 3)"
    )
    parser.add_argument("--top-k", type=int, help="candidates per masked noun (bert)")
    parser.add_argument("--system", help="system prompt for sheets without a system column")
    parser.add_argument("--model", help="fill-mask model id or folder (default AUGMENT_MODEL)")
    parser.add_argument("--batch-size", type=int, help="masked sentences per forward pass")
    parser.add_argument(
        "-o", "--output", type=Path, help="output .jsonl (default: INPUT-METHOD.jsonl beside it)"
    )
    parser.add_argument(
        "--review", type=Path, help="also write a .csv or .xlsx copy to read in Excel"
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="also store the result as a dataset in the bot's database, as /augment does",
    )


# Options that a setting also gives: the option must stay within the setting's bounds.
SETTING_OF_OPTION = {"top_k": "augment_top_k", "batch_size": "augment_batch_size"}


def run_augment(args: argparse.Namespace) -> int:
    settings = load_settings(DatasetStoreSettings)
    # Messages follow KOBO_LANGUAGE, else the shell's locale (LANG=ja_JP.UTF-8: Japanese).
    language = settings.kobo_language or language_from_env()
    try:
        return _run(args, settings, language)
    except LocalizedError as refused:  # bad input (augment.AugmentError among them)
        print(f"kobo augment: {refused.render(language)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace, settings: DatasetStoreSettings, language: Language) -> int:
    for option, setting in SETTING_OF_OPTION.items():
        _check_bounds("--" + option.replace("_", "-"), getattr(args, option), setting)
    overrides = {}
    if args.model:
        overrides["augment_model"] = args.model
    if args.batch_size is not None:
        overrides["augment_batch_size"] = args.batch_size
    settings = settings.model_copy(update=overrides)
    output = args.output or args.input.with_name(f"{args.input.stem}-{args.method}.jsonl")
    if args.review and args.review.suffix.lower() not in (".csv", ".xlsx"):
        raise LocalizedError(msg("augment.cli.review_suffix", path=str(args.review)))
    outputs = {"-o": output, "--review": args.review} if args.review else {"-o": output}
    protected = protected_by(settings, {str(args.input): args.input})
    try:
        _check_sheet(args.input)
        safe_targets(outputs, protected)  # before the work: checked again when writing
        if args.store:
            _check_database(settings)
        data = read_bounded(args.input, settings.augment_max_file_bytes)
    except FileTooBig as exc:
        raise LocalizedError(
            msg(
                "augment.cli.too_big",
                file=args.input.name,
                size=f"{exc.size:,}",
                limit=f"{settings.augment_max_file_bytes:,}",
            )
        ) from None
    except OSError as exc:
        raise LocalizedError(
            msg("augment.cli.cannot_read", path=str(args.input), reason=exc.strerror or str(exc))
        ) from None

    request = AugmentRequest(
        data=data,
        filename=args.input.name,
        method=args.method,
        count=args.count,
        top_k=args.top_k,
        system_prompt=args.system,
    )
    rows_text = text("augment.cli.augmenting", language)
    with tqdm(total=0, unit="row", desc=rows_text, file=sys.stderr) as bar:

        def progress(update: RowsDone | ModelDownload) -> None:
            if isinstance(update, ModelDownload):
                bar.set_description_str(update.message.render(language))
                return
            bar.set_description_str(rows_text, refresh=False)
            bar.total = update.total
            bar.n = update.done
            bar.refresh()

        job = run_augment_job(request, settings, progress)

    _write(job, outputs, protected)
    dataset = asyncio.run(_store(settings, request, job)) if args.store else None
    for line in job.summary():
        print(line.render(language))
    for sample in job.result.samples:
        print("  " + text("augment.cli.sample", language, sentence=sample))
    if args.review:
        print(text("augment.cli.wrote_both", language, output=output, review=args.review))
    else:
        print(text("augment.cli.wrote", language, output=output))
    if dataset is not None:
        print(text("shell.augment.stored", language, dataset=dataset.id, name=dataset.name))
    return 0


def _write(job: AugmentJob, outputs: dict[str, Path], protected: Protected) -> None:
    contents = {"-o": (outputs["-o"], job.jsonl)}
    if "--review" in outputs:
        review = outputs["--review"]
        writer = to_csv if review.suffix.lower() == ".csv" else to_xlsx
        contents["--review"] = (review, writer(job.result.examples))
    try:
        # Both or neither: a review copy that cannot be written leaves no new JSONL behind,
        # and a failed write leaves what was there before.
        write_outputs(contents, protected)
    except OSError as exc:
        raise LocalizedError(msg("augment.cli.cannot_write", reason=str(exc))) from None


def _check_database(settings: DatasetStoreSettings) -> None:
    """--store needs the bot's database: refused before the work, not after it."""
    if not settings.database_path.is_file():
        raise LocalizedError(msg("curation.cli.no_database", path=str(settings.database_path)))


async def _store(
    settings: DatasetStoreSettings, request: AugmentRequest, job: AugmentJob
) -> Dataset:
    db = await open_existing_database(settings.database_path)
    try:
        datasets = DatasetRepository(db, settings.data_dir)
        return await store_augmented(datasets, request, job, SHELL_USER)
    finally:
        await db.close()


def _check_bounds(flag: str, value: int | None, setting: str) -> None:
    """Refuse ``value`` outside the bounds of ``setting`` (its Field(ge=, le=))."""
    if value is None:
        return
    field = AugmentSettings.model_fields[setting]
    try:
        TypeAdapter(Annotated[field.annotation, field]).validate_python(value)
    except ValidationError:
        bounds = {
            name: getattr(rule, name)
            for rule in field.metadata
            for name in ("ge", "le")
            if hasattr(rule, name)
        }
        raise LocalizedError(
            msg(
                "augment.cli.out_of_bounds",
                flag=flag,
                value=value,
                low=bounds["ge"],
                high=bounds["le"],
                setting=setting.upper(),
            )
        ) from None


def _check_sheet(sheet: Path) -> None:
    """Refuse a sheet that is no regular file: a FIFO or /dev/zero would never end."""
    if not stat.S_ISREG(sheet.stat().st_mode):  # follows symlinks
        raise LocalizedError(msg("augment.cli.sheet_not_a_file", path=str(sheet)))
