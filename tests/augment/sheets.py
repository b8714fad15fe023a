"""Build workbooks like the workshop template in memory (tests never read the real sample)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from typing import Any

import openpyxl
from openpyxl.styles import Alignment, Border, PatternFill, Side

SYSTEM = "あなたはスタックチャンです。おはなしをしよう。"


def workbook_bytes(
    sheets: Sequence[tuple[str, Sequence[Sequence[Any]]]], *, formatted_rows: int = 0
) -> bytes:
    """One sheet per ``(title, rows)``; ``formatted_rows`` blank rows below the data get fills
    and borders, as the template has, so they exist in the file but hold no value."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    thin = Side(style="thin")
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
        if formatted_rows and rows:
            for row_number in range(len(rows) + 1, len(rows) + 1 + formatted_rows):
                for column in range(1, 4):
                    cell = sheet.cell(row=row_number, column=column)
                    cell.fill = PatternFill("solid", fgColor="FFF2CC")
                    cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
                    cell.alignment = Alignment(wrap_text=True)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_cached_value(data: bytes, cell: str, value: str) -> bytes:
    """Give formula cell ``cell`` the value Excel would have saved with it.

    openpyxl writes formulas without a result; Excel stores ``<v>result</v>`` beside ``<f>``.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    pattern = re.compile(rf'<c r="{cell}"([^>]*)><f>(.*?)</f><v\s*/>\s*</c>')
    replaced = 0
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                text, count = pattern.subn(
                    rf'<c r="{cell}"\1 t="str"><f>\2</f><v>{value}</v></c>', content.decode()
                )
                replaced += count
                content = text.encode()
            target.writestr(item, content)
    assert replaced == 1, f"formula cell {cell} not found"
    return output.getvalue()
