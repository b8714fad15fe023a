"""Reading and filling in the workshop template in tests, as a person would in Excel."""

from __future__ import annotations

import io

import openpyxl

from augment.template import DATA_SHEET


def contents(data: bytes) -> dict:
    """Everything a person sees in a workbook: sheets, values, widths, wrapping, frozen rows."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    described = {}
    for sheet in workbook.worksheets:
        cells = [cell for row in sheet.iter_rows() for cell in row]
        described[sheet.title] = {
            "values": {c.coordinate: c.value for c in cells if c.value is not None},
            "bold": sorted(c.coordinate for c in cells if c.font.bold),
            "wrapped": sorted(c.coordinate for c in cells if c.alignment.wrap_text),
            "bordered": sorted(c.coordinate for c in cells if c.border.left.style),
            "widths": {k: d.width for k, d in sheet.column_dimensions.items() if d.customWidth},
            "frozen": sheet.freeze_panes,
        }
    return {"active": workbook.active.title, "sheets": described}


def filled(template: bytes, rows: list[tuple[str | None, str, str]]) -> bytes:
    """The template with ``rows`` written below its examples, as a volunteer would."""
    workbook = openpyxl.load_workbook(io.BytesIO(template))
    sheet = workbook[DATA_SHEET]
    for row_number, values in enumerate(rows, start=4):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=row_number, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
