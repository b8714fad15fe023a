"""The part of reading that xlsx and CSV/TSV share: header search and cell text.

A sheet is a sequence of ``(row_number, cells)`` where ``row_number`` is what the user sees in
Excel (or the record number in a CSV file, header = 1 when it is on the first line).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from augment.errors import InputError

COLUMNS = ("system", "user", "assistant")
REQUIRED_COLUMNS = ("user", "assistant")
# Templates sometimes carry a title or instructions above the header.
HEADER_SEARCH_ROWS = 20

Row = tuple[int, Sequence[Any]]


@dataclass(frozen=True)
class Header:
    row_number: int
    # column name ("system"/"user"/"assistant") -> 0-based cell index
    columns: dict[str, int]


def cell_text(value: Any) -> str:
    """The text a cell shows, stripped; "" for an empty cell.

    Numbers typed into a cell come back from openpyxl as int or float: ``3`` must read "3", not
    "3.0", because children write answers like 3 or 100.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def column_name(value: Any) -> str:
    return cell_text(value).casefold()


def header_columns(cells: Sequence[Any]) -> dict[str, list[int]]:
    """Where each known column name appears in a row (a name may appear twice: that is an error)."""
    found: dict[str, list[int]] = {}
    for index, value in enumerate(cells):
        name = column_name(value)
        if name in COLUMNS:
            found.setdefault(name, []).append(index)
    return found


def is_header_like(cells: Sequence[Any]) -> bool:
    return bool(header_columns(cells))


def find_header(rows: Iterator[Row], *, where: str, letter: Any) -> tuple[Header, Iterator[Row]]:
    """Consume rows up to the header and return it with the iterator positioned after it.

    ``where`` names the file (and sheet) for messages; ``letter(index)`` names a column the way
    the user sees it ("B" in Excel, "column 2" in a CSV file).
    """
    first_rows: list[str] = []
    for row_number, cells in rows:
        found = header_columns(cells)
        if found:
            return _checked_header(row_number, found, where=where, letter=letter), rows
        if len(first_rows) < 3 and any(cell_text(cell) for cell in cells):
            shown = ", ".join(cell_text(cell) for cell in cells if cell_text(cell))
            first_rows.append(f"row {row_number} has: {shown[:80]}")
        if row_number >= HEADER_SEARCH_ROWS:
            break
    seen = f" ({'; '.join(first_rows)})" if first_rows else " (the rows are empty)"
    raise InputError(
        f"{where}: no header row with the columns system, user, assistant in the first "
        f"{HEADER_SEARCH_ROWS} rows{seen}."
    )


def _checked_header(
    row_number: int, found: dict[str, list[int]], *, where: str, letter: Any
) -> Header:
    for name, indexes in found.items():
        if len(indexes) > 1:
            places = " and ".join(letter(index) for index in indexes)
            raise InputError(
                f"{where}, row {row_number}: the column {name!r} appears twice ({places}); "
                "keep one."
            )
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    if missing:
        have = ", ".join(f"{name} ({letter(found[name][0])})" for name in COLUMNS if name in found)
        raise InputError(
            f"{where}, header row {row_number}: missing column(s) {', '.join(missing)} "
            f"(found {have})."
        )
    return Header(row_number=row_number, columns={name: idx[0] for name, idx in found.items()})


def values(cells: Sequence[Any], header: Header) -> dict[str, Any]:
    """The raw cell values of the known columns ("" past the end of a short row)."""
    return {
        name: cells[index] if index < len(cells) else None for name, index in header.columns.items()
    }


def limited(rows: Iterable[Row], *, where: str, max_rows: int) -> Iterator[Row]:
    """Pass rows through, refusing the file as soon as more than ``max_rows`` are not blank."""
    filled = 0
    for row in rows:
        if any(cell_text(cell) for cell in row[1]):
            filled += 1
            if filled > max_rows:
                raise InputError(
                    f"{where}: more than {max_rows} rows (the limit); split the file into "
                    "smaller ones."
                )
        yield row
