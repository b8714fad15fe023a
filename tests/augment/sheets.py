"""Build workbooks like the workshop template in memory (tests never read the real sample)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
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


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def handmade_workbook(sheet_xml: bytes | Iterable[bytes], shared_strings: Iterable[bytes]) -> bytes:
    """A one-sheet workbook ("LearningData") written XML by hand, as a hostile tool could.

    ``sheet_xml`` is what goes inside ``<sheetData>`` (or pieces of it, to stream a big sheet);
    ``shared_strings`` are the ``<si>`` elements of xl/sharedStrings.xml (cells refer to them by
    index with ``t="s"``).
    """
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{SPREADSHEET}.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{SPREADSHEET}.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{SPREADSHEET}.sharedStrings+xml"/></Types>'
        ).encode(),
        "_rels/.rels": (
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
            f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
            '<sheet name="LearningData" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" '
            'Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ).encode(),
    }
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in parts.items():
            target.writestr(name, content)
        with target.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            for piece in [sheet_xml] if isinstance(sheet_xml, bytes) else sheet_xml:
                sheet.write(piece)
            sheet.write(b"</sheetData></worksheet>")
        with target.open("xl/sharedStrings.xml", "w") as strings:
            strings.write(f'<sst xmlns="{MAIN}">'.encode())
            for item in shared_strings:
                strings.write(item)
            strings.write(b"</sst>")
    return output.getvalue()
