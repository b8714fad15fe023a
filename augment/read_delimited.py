"""Rows of a CSV or TSV file saved by Excel: UTF-8 (with or without BOM) or Shift_JIS/cp932."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from augment.errors import InputError
from augment.export import unguard_formula
from augment.table import Row, Where
from finetune.jsonl import line_place
from i18n import msg

# Japanese Excel saves "CSV" as cp932 unless the user picks "CSV UTF-8".
ENCODINGS = ("utf-8-sig", "cp932")


def decode_text(data: bytes, filename: Where) -> str:
    """Strict UTF-8 first (a UTF-8 file almost never decodes as cp932 by accident), then cp932."""
    failures: list[UnicodeDecodeError] = []
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            failures.append(error)
    # The encoding that got further is the one the file was most likely meant to be in.
    furthest = max(failures, key=lambda error: error.start)
    line = data.count(b"\n", 0, furthest.start) + 1
    raise InputError(msg("augment.csv.encoding", file=filename, line=line_place(line)))


def delimited_rows(text: str, filename: Where, delimiter: str) -> Iterator[Row]:
    """``(record_number, cells)``; a record with a quoted line break is still one row.

    A cell our CSV review copy guarded against formulas ("'=1+2") reads as it was ("=1+2").
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    record = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InputError(
                msg(
                    "augment.csv.unreadable",
                    file=filename,
                    line=line_place(reader.line_num),
                    kind="TSV" if delimiter == "\t" else "CSV",
                    reason=str(error),
                )
            ) from error
        record += 1
        yield record, [unguard_formula(cell) for cell in cells]
