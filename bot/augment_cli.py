"""``python -m bot augment INPUT ...``: the same augmentation as /augment, from a shell."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import Annotated

from pydantic import TypeAdapter, ValidationError
from tqdm import tqdm

from augment import AugmentError, to_csv, to_xlsx
from augment.engine import METHODS
from augment.job import AugmentRequest, run_augment_job
from config import AugmentSettings, load_settings
from storage.files import write_atomically

EXIT_BAD_INPUT = 2


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


# Options that a setting also gives: the option must stay within the setting's bounds.
SETTING_OF_OPTION = {"top_k": "augment_top_k", "batch_size": "augment_batch_size"}


def run_augment(args: argparse.Namespace) -> int:
    for option, setting in SETTING_OF_OPTION.items():
        problem = _out_of_bounds(getattr(args, option), setting)
        if problem:
            flag = "--" + option.replace("_", "-")
            return _fail(f"{flag} {getattr(args, option)} is invalid: {problem}")
    settings = load_settings(AugmentSettings)
    overrides = {}
    if args.model:
        overrides["augment_model"] = args.model
    if args.batch_size is not None:
        overrides["augment_batch_size"] = args.batch_size
    settings = settings.model_copy(update=overrides)
    output = args.output or args.input.with_name(f"{args.input.stem}-{args.method}.jsonl")
    if args.review and args.review.suffix.lower() not in (".csv", ".xlsx"):
        return _fail(f"{args.review}: the review copy must end in .csv or .xlsx")
    try:
        problem = _path_problem(args.input, output, args.review)
        if problem:
            return _fail(problem)
        data = _read_bounded(args.input, settings.augment_max_file_bytes)
    except _TooBig as exc:
        return _fail(
            f"{args.input.name}: {exc.size:,} bytes is over the limit of "
            f"{settings.augment_max_file_bytes:,} (AUGMENT_MAX_FILE_BYTES)"
        )
    except OSError as exc:
        return _fail(f"{args.input}: {exc.strerror or exc}")

    request = AugmentRequest(
        data=data,
        filename=args.input.name,
        method=args.method,
        count=args.count,
        top_k=args.top_k,
        system_prompt=args.system,
    )
    with tqdm(total=0, unit="row", desc="augmenting", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            job = run_augment_job(request, settings, progress)
        except AugmentError as exc:
            bar.close()
            return _fail(str(exc))

    contents = {_real(output): job.jsonl}
    if args.review:
        writer = to_csv if args.review.suffix.lower() == ".csv" else to_xlsx
        contents[_real(args.review)] = writer(job.result.examples)
    try:
        # Both or neither: a review copy that cannot be written leaves no new JSONL behind,
        # and a failed write leaves what was there before.
        write_atomically(contents)
    except OSError as exc:
        return _fail(f"cannot write the output: {exc}")
    for line in job.summary():
        print(line)
    for sample in job.result.samples:
        print(f"  sample: {sample}")
    print(f"wrote {output}" + (f" and {args.review}" if args.review else ""))
    return 0


def _fail(message: str) -> int:
    print(f"kobo augment: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


class _TooBig(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _out_of_bounds(value: int | None, setting: str) -> str | None:
    """Why ``value`` breaks the bounds of ``setting`` (the same Field(ge=, le=)), or None."""
    if value is None:
        return None
    field = AugmentSettings.model_fields[setting]
    try:
        TypeAdapter(Annotated[field.annotation, field]).validate_python(value)
    except ValidationError as exc:
        return f"{exc.errors()[0]['msg']} (as for {setting.upper()})"
    return None


def _real(path: Path) -> Path:
    """Where writing ``path`` lands: through symlinks, so a link to a file updates that file."""
    return Path(os.path.realpath(path))


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)  # also hard links to one file
    except OSError:
        return _real(first) == _real(second)  # one of them does not exist yet


def _path_problem(sheet: Path, output: Path, review: Path | None) -> str | None:
    """Refuse a sheet that is no regular file (a FIFO or /dev/zero would never end), outputs
    that are no regular file, and outputs that would overwrite the sheet or each other."""
    if not stat.S_ISREG(sheet.stat().st_mode):  # follows symlinks
        return f"{sheet}: not a regular file; give the sheet file itself"
    outputs = {"-o": output, "--review": review} if review else {"-o": output}
    for flag, path in outputs.items():
        if path.exists() and not path.is_file():
            return f"{flag} {path}: not a regular file; give a file name to write"
        if _same_file(path, sheet):
            return f"{flag} {path} is the input sheet; give another file name"
    if review and _same_file(review, output):
        return f"--review {review} is the -o file too; give another file name"
    return None


def _read_bounded(path: Path, limit: int) -> bytes:
    """The file's bytes, reading no more than ``limit`` + 1 even if it grows meanwhile."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
        if len(data) > limit:
            raise _TooBig(max(os.fstat(handle.fileno()).st_size, len(data)))
    return data
