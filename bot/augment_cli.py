"""``python -m bot augment INPUT ...``: the same augmentation as /augment, from a shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from augment import AugmentError, to_csv, to_xlsx
from augment.engine import METHODS
from augment.job import AugmentRequest, run_augment_job
from config import AugmentSettings, load_settings

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


def run_augment(args: argparse.Namespace) -> int:
    settings = load_settings(AugmentSettings)
    overrides = {}
    if args.model:
        overrides["augment_model"] = args.model
    if args.batch_size:
        overrides["augment_batch_size"] = args.batch_size
    settings = settings.model_copy(update=overrides)
    output = args.output or args.input.with_name(f"{args.input.stem}-{args.method}.jsonl")
    if args.review and args.review.suffix.lower() not in (".csv", ".xlsx"):
        return _fail(f"{args.review}: the review copy must end in .csv or .xlsx")
    try:
        size = args.input.stat().st_size
        if size > settings.augment_max_file_bytes:
            return _fail(
                f"{args.input.name}: {size:,} bytes is over the limit of "
                f"{settings.augment_max_file_bytes:,} (AUGMENT_MAX_FILE_BYTES)"
            )
        data = args.input.read_bytes()
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

    try:
        output.write_bytes(job.jsonl)
        if args.review:
            writer = to_csv if args.review.suffix.lower() == ".csv" else to_xlsx
            args.review.write_bytes(writer(job.result.examples))
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
