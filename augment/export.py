"""Write examples out: the fine-tuning JSONL, and CSV/xlsx copies for review in Excel.

The review copies have the reading template's columns (system, user, assistant), so a copy that
staff corrected in Excel can be uploaded again as it is. An example with several user or
assistant turns shows them in one cell, one per line. ``extra`` columns (a review's decisions)
come after them; the reader ignores columns it does not know.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence

import openpyxl
from openpyxl.styles import Font

from augment.example import Example
from finetune.jsonl import jsonl_bytes

COLUMNS = ("system", "user", "assistant")
SHEET_NAME = "LearningData"
COLUMN_WIDTHS = {"A": 40, "B": 50, "C": 50}
# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|...,
# @SUM(...)); OWASP's CSV injection advice: start such a cell with a quote so it stays text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"
# What XML 1.0 forbids (control characters, lone surrogates, U+FFFE, U+FFFF): Excel refuses an
# xlsx holding one, and they mean nothing in a copy for reading.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def to_jsonl(examples: Iterable[Example]) -> bytes:
    """One ``{"messages": [...]}`` object per line: strict JSON, UTF-8, Japanese left readable."""
    return jsonl_bytes(example.to_json_object() for example in examples)


def review_row(example: Example) -> list[str]:
    """The system, user and assistant cells, without characters XML forbids."""
    return [
        XML_FORBIDDEN.sub(
            "",
            "\n".join(
                str(message.get("content"))
                for message in example.messages
                if message.get("role") == role and isinstance(message.get("content"), str)
            ),
        )
        for role in COLUMNS
    ]


# Column title -> one cell per example, in the examples' order.
ExtraColumns = Mapping[str, Sequence[str]]


def _table(
    examples: Iterable[Example], extra: ExtraColumns | None
) -> tuple[list[str], list[list[str]]]:
    rows = [review_row(example) for example in examples]
    if not extra:
        return list(COLUMNS), rows
    for cells in extra.values():
        if len(cells) != len(rows):
            raise ValueError(f"{len(cells)} extra cells for {len(rows)} examples")
    for index, row in enumerate(rows):
        row.extend(XML_FORBIDDEN.sub("", cells[index]) for cells in extra.values())
    return [*COLUMNS, *extra], rows


def guard_formula(text: str) -> str:
    return FORMULA_GUARD + text if text.startswith(FORMULA_STARTS) else text


def unguard_formula(text: str) -> str:
    """The cell's text as it was before ``guard_formula`` (reading a review copy back)."""
    guarded = text.startswith(FORMULA_GUARD) and text[1:].startswith(FORMULA_STARTS)
    return text[1:] if guarded else text


def to_csv(examples: Iterable[Example], extra: ExtraColumns | None = None) -> bytes:
    """CSV with a BOM: without it Excel reads UTF-8 as the local code page and garbles Japanese."""
    header, rows = _table(examples, extra)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([guard_formula(text) for text in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(examples: Iterable[Example], extra: ExtraColumns | None = None) -> bytes:
    header, rows = _table(examples, extra)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row_number, row in enumerate(rows, start=2):
        for column, text in enumerate(row, start=1):
            cell = sheet.cell(row=row_number, column=column, value=text)
            # openpyxl would store "=..." as a formula; a sentence must stay text.
            cell.data_type = "s"
    for letter, width in COLUMN_WIDTHS.items():
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
