"""The workshop's sheet template: the .xlsx a volunteer fills in and sends to /augment.

Its ``LearningData`` sheet (the one the reader looks for, see read_xlsx.py) has the header
row, two filled examples and a few hundred formatted rows to write in; a second sheet says
what each column is for and what happens next. Texts come from the catalogues, so a
Japanese template has Japanese headers, examples and instructions, an English one English.
"""

from __future__ import annotations

import functools
import io
from datetime import datetime
from typing import NamedTuple

import openpyxl
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

from augment.table import COLUMNS
from i18n import Language, text

# The sheet /augment reads first (augment/read_xlsx.py).
DATA_SHEET = "LearningData"
# Rows formatted for writing in, below the header: enough for a workshop, far below the
# reader's limits (AUGMENT_MAX_ROWS).
WRITING_ROWS = 300
EXAMPLES = ("example_1", "example_2")
# Excel's column widths (characters) for system, user, assistant.
COLUMN_WIDTHS = (44, 40, 56)
GUIDE_WIDTH = 110
# Saved in the file's properties instead of "now", so each build is the same workbook.
BUILT_AT = datetime(2026, 1, 1)


class GuideLine(NamedTuple):
    """One row of the guide sheet: a catalogue message, maybe about one column's header."""

    key: str
    heading: bool = False
    column: str | None = None  # "system", "user", "assistant": the text names its header


# The guide sheet, top to bottom; None is a blank row.
GUIDE: tuple[GuideLine | None, ...] = (
    GuideLine("template.guide.title", heading=True),
    GuideLine("template.guide.intro"),
    None,
    GuideLine("template.guide.where.heading", heading=True),
    GuideLine("template.guide.where.rows"),
    GuideLine("template.guide.where.examples"),
    None,
    GuideLine("template.guide.columns.heading", heading=True),
    GuideLine("template.guide.columns.system", column="system"),
    GuideLine("template.guide.columns.user", column="user"),
    GuideLine("template.guide.columns.assistant", column="assistant"),
    None,
    GuideLine("template.guide.rows.heading", heading=True),
    GuideLine("template.guide.rows.minimum"),
    GuideLine("template.guide.rows.more"),
    None,
    GuideLine("template.guide.next.heading", heading=True),
    GuideLine("template.guide.next.save"),
    GuideLine("template.guide.next.augment"),
    GuideLine("template.guide.next.train"),
    GuideLine("template.guide.next.assign"),
)

_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAPPED = Alignment(wrap_text=True, vertical="top")


def header_names(language: Language) -> tuple[str, ...]:
    """The header row's texts: system, user, assistant in ``language``."""
    return tuple(text(f"template.header.{column}", language) for column in COLUMNS)


@functools.cache
def template_xlsx(language: Language) -> bytes:
    """The template workbook in ``language``, as the bytes of an .xlsx file."""
    workbook = openpyxl.Workbook()
    data = workbook.active
    data.title = DATA_SHEET
    _fill_data_sheet(data, language)
    _fill_guide_sheet(workbook.create_sheet(text("template.sheet.guide", language)), language)
    workbook.active = 0  # opens on the sheet to write in
    workbook.properties.creator = "kobo"
    workbook.properties.created = workbook.properties.modified = BUILT_AT
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _fill_data_sheet(sheet: Worksheet, language: Language) -> None:
    headers = header_names(language)
    for column, (name, width) in enumerate(zip(headers, COLUMN_WIDTHS, strict=True), start=1):
        cell = sheet.cell(row=1, column=column, value=name)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center")
        sheet.column_dimensions[cell.column_letter].width = width
    for row, example in enumerate(EXAMPLES, start=2):
        for column, name in enumerate(COLUMNS, start=1):
            sheet.cell(row=row, column=column, value=text(f"template.{example}.{name}", language))
    for row in range(2, 2 + WRITING_ROWS):
        for column in range(1, len(COLUMNS) + 1):
            cell = sheet.cell(row=row, column=column)
            cell.alignment = _WRAPPED
            cell.border = _BORDER
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling


def _fill_guide_sheet(sheet: Worksheet, language: Language) -> None:
    headers = dict(zip(COLUMNS, header_names(language), strict=True))
    sheet.column_dimensions["A"].width = GUIDE_WIDTH
    for row, line in enumerate(GUIDE, start=1):
        if line is None:
            continue
        values = {"header": headers[line.column]} if line.column else {}
        cell = sheet.cell(row=row, column=1, value=text(line.key, language, **values))
        cell.alignment = _WRAPPED
        if line.heading:
            cell.font = Font(bold=True, size=14 if row == 1 else 12)
