"""Rows of the learning-data sheet of an Excel workbook (.xlsx / .xlsm)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import openpyxl
from openpyxl.reader.excel import ExcelReader

from augment.errors import InputError
from augment.table import HEADER_SEARCH_ROWS, Row, Where, is_header_like
from augment.xlsx_zip import count_texts_cells_and_rows, first_value_row_after
from i18n import Message, msg, row
from i18n.joining import joined

PREFERRED_SHEET = "learningdata"
# The reader looks at the first ten columns (A to J) only: the template's three columns and notes
# beside them sit there. Without a bound, a row whose one value is in column XFD comes back from
# openpyxl as 16,384 cells to walk, row after row (a 26 KB file took ten seconds).
READ_COLUMNS = 10
# Workshop templates are formatted far below the last row anyone fills in: stop after this many
# blank rows in a row instead of walking a million formatted-but-empty rows.
MAX_BLANK_RUN = 10_000
# How many times the rows the reader may walk a workbook may hold (WorkbookBounds.rows).
ROWS_SLACK = 10
# Excel shows these texts for a formula that failed; they are never meant as training text.
EXCEL_ERRORS = frozenset(
    {"#REF!", "#VALUE!", "#N/A", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"}
)


@dataclass(frozen=True)
class WorkbookBounds:
    """What a workbook may hold before openpyxl parses any of it (derived from the read limits)."""

    unpacked_bytes: int
    # Shared strings: openpyxl loads them all before the first row.
    texts: int
    # Cells of all sheets together. openpyxl parses every one of them, even in load_workbook: a
    # sheet without a <dimension> element is walked to its end to look for one.
    cells: int
    # Rows of all sheets together, for the same reason: millions of empty <row/> elements hold
    # no cell but still take seconds and hundreds of MB.
    rows: int


@contextmanager
def open_workbook(data: bytes, filename: Where, bounds: WorkbookBounds) -> Iterator[Any]:
    """Refuse, before openpyxl parses anything, a zip that holds more than ``bounds`` allows: a
    small upload can unpack to gigabytes or hold millions of texts or cells."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        archive = None  # not a zip at all: load_workbook below says so in its own words
    if archive is not None:
        with archive:
            _check_archive(archive, data, filename, bounds)
    try:
        # data_only: a formula cell gives the value Excel saved with it, not the formula text.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises anything from zipfile, lxml or its own parsers
        raise InputError(
            msg("augment.xlsx.unreadable", file=filename, reason=type(error).__name__)
        ) from error
    try:
        yield workbook
    finally:
        workbook.close()


def _check_archive(
    archive: zipfile.ZipFile, data: bytes, filename: Where, bounds: WorkbookBounds
) -> None:
    # The sizes come from the zip's directory; zipfile never unpacks more than a member declares.
    unpacked = sum(item.file_size for item in archive.infolist())
    if unpacked > bounds.unpacked_bytes:
        raise InputError(
            msg(
                "augment.xlsx.unpacks_too_big",
                file=filename,
                size=f"{unpacked:,}",
                limit=f"{bounds.unpacked_bytes:,}",
            )
        )
    # Every member, not only xl/sharedStrings.xml and xl/worksheets/: the workbook may name its
    # parts anyhow. Real workbooks have <c> elements in worksheets only.
    texts = cells = rows = 0
    cells_by_part: dict[str, int] = {}
    rows_by_part: dict[str, int] = {}
    for item in archive.infolist():
        try:
            with archive.open(item) as member:
                found = count_texts_cells_and_rows(
                    member,
                    stop_texts_above=bounds.texts - texts,
                    stop_cells_above=bounds.cells - cells,
                    stop_rows_above=bounds.rows - rows,
                )
        except Exception:  # encrypted, corrupt, unknown compression: zipfile raises many kinds
            continue  # load_workbook below reports the member if it matters
        texts += found.texts
        cells += found.cells
        rows += found.rows
        cells_by_part[item.filename] = cells_by_part.get(item.filename, 0) + found.cells
        rows_by_part[item.filename] = rows_by_part.get(item.filename, 0) + found.rows
        if texts > bounds.texts:
            raise InputError(
                msg("augment.xlsx.too_many_texts", file=filename, limit=f"{bounds.texts:,}")
            )
        for key, count, limit, by_part in (
            ("augment.xlsx.too_many_cells", cells, bounds.cells, cells_by_part),
            ("augment.xlsx.too_many_rows", rows, bounds.rows, rows_by_part),
        ):
            if count > limit:
                most_in = _crowded_part(data, by_part)
                raise InputError(msg(key, file=filename, limit=f"{limit:,}", most_in=most_in))


def _crowded_part(data: bytes, counts_by_part: dict[str, int]) -> Message:
    """The sheet (or, failing that, the zip member) with the highest count, named for a person."""
    crowded = max(counts_by_part, key=counts_by_part.__getitem__)
    title = _sheet_title(data, crowded)
    return sheet_name(title) if title is not None else msg("augment.xlsx.part", part=crowded)


def _sheet_title(data: bytes, part: str) -> str | None:
    """The title of the worksheet stored in zip member ``part``, found as load_workbook finds it
    (from the workbook part and its relationships, parsing no sheet); None if it is no sheet."""
    reader = None
    try:
        reader = ExcelReader(io.BytesIO(data), read_only=True)
        reader.read_manifest()
        reader.read_workbook()
        return next(
            (sheet.name for sheet, rel in reader.parser.find_sheets() if rel.target == part), None
        )
    except Exception:  # a broken manifest or workbook part: load_workbook would fail on it too
        return None
    finally:
        if reader is not None:
            reader.archive.close()


def _sheet_rows(sheet: Any, filename: Where, max_row: int | None = None) -> Iterator[Row]:
    """``(excel_row_number, values)``; a broken sheet XML becomes an InputError naming the sheet."""
    try:
        # The stored dimension can be wrong (some exporters write A1:A1); read what is there.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(min_row=1, max_row=max_row, max_col=READ_COLUMNS, values_only=True)
        yield from enumerate(rows, start=1)
    except InputError:
        raise
    except Exception as error:  # the sheet's XML is parsed lazily, while we iterate
        raise _unreadable_sheet(sheet, filename, error) from error


def choose_sheet(workbook: Any, filename: Where) -> Any:
    """The sheet named LearningData if there is one, else the first with a header row."""
    for sheet in workbook.worksheets:
        if sheet.title.strip().casefold() == PREFERRED_SHEET:
            return sheet
    for sheet in workbook.worksheets:
        top_rows = _sheet_rows(sheet, filename, HEADER_SEARCH_ROWS)
        if any(is_header_like(cells) for _, cells in top_rows):
            return sheet
    names = joined([sheet_name(sheet.title) for sheet in workbook.worksheets], style="names")
    raise InputError(msg("augment.xlsx.no_header_sheet", file=filename, sheets=names))


def xlsx_rows(sheet: Any, filename: Where) -> Iterator[Row]:
    """All rows of ``sheet``, stopping after a long run of blank rows (template formatting).

    A value further down is not dropped silently: the sheet is refused, naming its row.
    """
    blank_run = 0
    for row_number, cells in _sheet_rows(sheet, filename):
        if any(cell is not None and str(cell).strip() for cell in cells):
            blank_run = 0
        else:
            blank_run += 1
            if blank_run >= MAX_BLANK_RUN:
                _refuse_values_below(sheet, filename, row_number)
                return
        yield row_number, cells


def _refuse_values_below(sheet: Any, filename: Where, row_number: int) -> None:
    try:
        # openpyxl's own way to open the sheet's XML in the (still open) archive.
        with sheet._get_source() as source:
            later = first_value_row_after(source, row_number)
    except Exception as error:  # it parsed moments ago; only a corrupt tail gets here
        raise _unreadable_sheet(sheet, filename, error) from error
    if later is not None:
        raise InputError(
            msg(
                "augment.xlsx.value_after_gap",
                where=sheet_where(filename, sheet.title),
                row=row(later),
                blank_rows=f"{MAX_BLANK_RUN:,}",
            )
        )


def sheet_where(filename: Where, title: str) -> Message:
    """A sheet of the file, for messages: "robot.xlsx, sheet 'LearningData'"."""
    return msg("augment.where.sheet", file=filename, sheet=sheet_name(title))


def sheet_name(title: str) -> Message:
    """A sheet, named as the reader says it: "sheet 'LearningData'" / "「LearningData」シート"."""
    return msg("augment.sheet", sheet=title)


def _unreadable_sheet(sheet: Any, filename: Where, error: Exception) -> InputError:
    return InputError(
        msg(
            "augment.xlsx.sheet_unreadable",
            where=sheet_where(filename, sheet.title),
            reason=type(error).__name__,
        )
    )
