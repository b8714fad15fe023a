"""One augmentation from file bytes to JSONL bytes, as both the bot and the CLI run it.

What it says (the summary, progress) is catalogue messages and plain numbers: the bot and the
CLI put them into their reader's language.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from augment.engine import AugmentResult, Method, augment
from augment.export import to_jsonl
from augment.fill_mask import load_fill_mask
from augment.read_sheet import ReadLimits, SheetReadResult, read_sheet, skipped_list
from config.settings import AugmentSettings
from i18n import Message, msg

SHOWN_SKIPPED_ROWS = 5
BYTES_PER_MB = 1_000_000


@dataclass(frozen=True)
class RowsDone:
    """Progress of the augmentation itself: ``done`` of ``total`` rows."""

    done: int
    total: int


@dataclass(frozen=True)
class ModelDownload:
    """The fill-mask model is being downloaded (the first bert run): ``downloaded`` bytes so far."""

    downloaded: int

    @property
    def message(self) -> Message:
        """What the reader sees: ``Downloading the model… (12.3 MB)``."""
        return msg("augment.progress.downloading", size=megabytes(self.downloaded))


def megabytes(size: int) -> str:
    """A tenth of a MB while that still shows movement: "0.4", "12.3", "1,024"."""
    value = size / BYTES_PER_MB
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


JobProgress = Callable[[RowsDone | ModelDownload], None]


@dataclass(frozen=True)
class AugmentRequest:
    data: bytes
    filename: str
    method: Method
    count: int
    top_k: int | None = None
    system_prompt: str | None = None


@dataclass(frozen=True)
class AugmentJob:
    request: AugmentRequest
    read: SheetReadResult
    result: AugmentResult
    jsonl: bytes

    def summary(self) -> list[Message]:
        """Lines for a reply or a terminal: what was read, skipped and produced."""
        read, result = self.read, self.result
        lines = [msg("augment.summary.rows_read", count=read.rows_read)]
        if read.skipped:
            lines.append(
                msg(
                    "augment.summary.skipped",
                    count=len(read.skipped),
                    rows=skipped_list(read.skipped, SHOWN_SKIPPED_ROWS),
                )
            )
        else:
            lines.append(msg("augment.summary.none_skipped"))
        counts = result.counts
        lines.append(
            msg(
                "augment.summary.examples_out",
                total=len(result.examples),
                original=counts["original"],
                new=counts[result.method],
                method=result.method,
            )
        )
        if result.capped:
            lines.append(
                msg(
                    "augment.summary.capped",
                    count=result.count,
                    capped=result.new_per_row + 1,
                    new_per_row=result.new_per_row,
                )
            )
        if result.method == "bert" and result.rows_without_new:
            lines.append(msg("augment.summary.rows_without_new", count=result.rows_without_new))
        if read.skipped:
            lines.append(msg("augment.summary.fix_skipped"))
        return lines


def limits_from(settings: AugmentSettings) -> ReadLimits:
    return ReadLimits(max_bytes=settings.augment_max_file_bytes, max_rows=settings.augment_max_rows)


def training_jsonl(
    data: bytes, filename: str, settings: AugmentSettings, system_prompt: str | None = None
) -> tuple[bytes, str]:
    """A file attached for training as JSONL: JSONL as it is (so its own line numbers stay
    meaningful in problems) less a BOM, which is no part of JSONL, a sheet read the way /augment
    reads it. Returns bytes and name."""
    if filename.lower().endswith(".jsonl"):
        return data.removeprefix(codecs.BOM_UTF8), filename
    read = read_sheet(
        data,
        filename,
        default_system=system_prompt or settings.augment_default_system,
        limits=limits_from(settings),
    )
    return to_jsonl(read.examples), f"{PurePath(filename).stem}.jsonl"


def run_augment_job(
    request: AugmentRequest,
    settings: AugmentSettings,
    progress: JobProgress | None = None,
) -> AugmentJob:
    """Blocking: parse, augment, serialise. Raises ``augment.AugmentError`` on bad input.

    ``progress`` is called from this thread and the model download's watcher thread.
    """
    read = read_sheet(
        request.data,
        request.filename,
        default_system=request.system_prompt or settings.augment_default_system,
        limits=limits_from(settings),
    )
    fill_mask = (
        load_fill_mask(
            settings.augment_model,
            batch_size=settings.augment_batch_size,
            on_download=(lambda size: progress(ModelDownload(size))) if progress else None,
        )
        if request.method == "bert"
        else None
    )
    result = augment(
        read.examples,
        method=request.method,
        count=request.count,
        top_k=request.top_k or settings.augment_top_k,
        max_new_per_row=settings.augment_max_new_per_row,
        fill_mask=fill_mask,
        progress=(lambda done, total: progress(RowsDone(done, total))) if progress else None,
    )
    return AugmentJob(request, read, result, to_jsonl(result.examples))
