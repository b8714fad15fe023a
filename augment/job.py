"""One augmentation from file bytes to JSONL bytes, as both the bot and the CLI run it."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from augment.engine import AugmentResult, Method, augment
from augment.export import to_jsonl
from augment.fill_mask import load_fill_mask
from augment.read_sheet import ReadLimits, SheetReadResult, read_sheet
from config.settings import AugmentSettings

SHOWN_SKIPPED_ROWS = 5


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

    def summary(self) -> list[str]:
        """Plain lines for a reply or a terminal: what was read, skipped and produced."""
        read, result = self.read, self.result
        lines = [f"rows read: {read.rows_read}"]
        if read.skipped:
            shown = "; ".join(str(s) for s in read.skipped[:SHOWN_SKIPPED_ROWS])
            more = len(read.skipped) - SHOWN_SKIPPED_ROWS
            lines.append(
                f"skipped: {len(read.skipped)} ({shown}{f'; and {more} more' if more > 0 else ''})"
            )
        else:
            lines.append("skipped: 0")
        counts = result.counts
        lines.append(
            f"examples out: {len(result.examples)} "
            f"({counts['original']} original + {counts[result.method]} {result.method})"
        )
        if result.capped:
            lines.append(
                f"count {result.count} was capped to {result.new_per_row + 1} "
                f"(AUGMENT_MAX_NEW_PER_ROW = {result.new_per_row} new per row)"
            )
        if result.method == "bert" and result.rows_without_new:
            lines.append(f"rows with no usable noun or replacement: {result.rows_without_new}")
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
    progress: Callable[[int, int], None] | None = None,
) -> AugmentJob:
    """Blocking: parse, augment, serialise. Raises ``augment.AugmentError`` on bad input."""
    read = read_sheet(
        request.data,
        request.filename,
        default_system=request.system_prompt or settings.augment_default_system,
        limits=limits_from(settings),
    )
    fill_mask = (
        load_fill_mask(settings.augment_model, batch_size=settings.augment_batch_size)
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
        progress=progress,
    )
    return AugmentJob(request, read, result, to_jsonl(result.examples))
