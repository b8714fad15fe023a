"""The part of reading that xlsx and CSV/TSV share: header search and cell text.

A sheet is a sequence of ``(row_number, cells)`` where ``row_number`` is what the user sees in
Excel (or the record number in a CSV file, header = 1 when it is on the first line). Columns are
named by their letters, as Excel shows them, a CSV file's too: staff open those in Excel.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from augment.errors import InputError
from i18n import Message, msg, places, row
from i18n.joining import joined

COLUMNS = ("system", "user", "assistant")
REQUIRED_COLUMNS = ("user", "assistant")
# The header texts kobo accepts for each column, compared after header_key(): full-width and
# half-width forms (ＵＳＥＲ, ｼｽﾃﾑ), case and surrounding spaces do not matter. Workshops write
# their sheets in Japanese, and children call the turns "question" and "answer" in their own words.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "system": ("system", "システム", "システムプロンプト"),
    "user": ("user", "ユーザー", "ユーザ", "質問", "しつもん", "入力"),
    "assistant": ("assistant", "アシスタント", "答え", "こたえ", "回答", "返答", "出力"),
}
# Templates sometimes carry a title or instructions above the header.
HEADER_SEARCH_ROWS = 20
SHOWN_FIRST_ROWS = 3  # of a sheet without a header, to show what kobo found instead
SHOWN_CELLS_CHARS = 80

Row = tuple[int, Sequence[Any]]
# Where in the upload a problem is: the file name, or a Message (a file's sheet).
Where = str | Message


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


def header_key(text: str) -> str:
    """A header text as compared: NFKC folds full-width letters and half-width kana."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


_COLUMN_OF_HEADER = {
    header_key(name): column for column, names in HEADER_NAMES.items() for name in names
}


def column_of_header(value: Any) -> str | None:
    """Which column ("system", "user", "assistant") a header cell names, or None."""
    return _COLUMN_OF_HEADER.get(header_key(cell_text(value)))


def column_title(column: str) -> Message:
    """The column's name for the reader: "assistant" / "アシスタント"."""
    return msg(f"augment.column.{column}")


def column_place(index: int) -> Message:
    """The 0-based cell ``index`` as Excel names its column: "column B" / "B列"."""
    return places.column(index + 1)


def header_columns(cells: Sequence[Any]) -> dict[str, list[int]]:
    """Where each known column name appears in a row (a name may appear twice: that is an error)."""
    found: dict[str, list[int]] = {}
    for index, value in enumerate(cells):
        column = column_of_header(value)
        if column is not None:
            found.setdefault(column, []).append(index)
    return found


def is_header_like(cells: Sequence[Any]) -> bool:
    return bool(header_columns(cells))


def find_header(rows: Iterator[Row], *, where: Where) -> tuple[Header, Iterator[Row]]:
    """Consume rows up to the header and return it with the iterator positioned after it.

    ``where`` names the file (and sheet) for messages.
    """
    first_rows: list[Message] = []
    for row_number, cells in rows:
        found = header_columns(cells)
        if found:
            return _checked_header(row_number, found, where=where), rows
        texts = [cell_text(cell) for cell in cells if cell_text(cell)]
        if len(first_rows) < SHOWN_FIRST_ROWS and texts:
            shown = ", ".join(texts)[:SHOWN_CELLS_CHARS]
            first_rows.append(msg("augment.header.row_has", row=row(row_number), cells=shown))
        if row_number >= HEADER_SEARCH_ROWS:
            break
    seen = joined(first_rows) if first_rows else msg("augment.header.rows_empty")
    raise InputError(
        msg("augment.header.not_found", where=where, limit=HEADER_SEARCH_ROWS, seen=seen)
    )


def _checked_header(row_number: int, found: dict[str, list[int]], *, where: Where) -> Header:
    for name, indexes in found.items():
        if len(indexes) > 1:
            places = joined([column_place(index) for index in indexes], style="names")
            raise InputError(
                msg(
                    "augment.header.column_twice",
                    where=where,
                    row=row(row_number),
                    column=column_title(name),
                    places=places,
                )
            )
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    if missing:
        have = [
            msg(
                "augment.header.found_column",
                column=column_title(name),
                place=column_place(found[name][0]),
            )
            for name in COLUMNS
            if name in found
        ]
        raise InputError(
            msg(
                "augment.header.missing",
                where=where,
                row=row_number,
                missing=joined([column_title(name) for name in missing], style="names"),
                found=joined(have, style="names"),
            )
        )
    return Header(row_number=row_number, columns={name: idx[0] for name, idx in found.items()})


def values(cells: Sequence[Any], header: Header) -> dict[str, Any]:
    """The raw cell values of the known columns ("" past the end of a short row)."""
    return {
        name: cells[index] if index < len(cells) else None for name, index in header.columns.items()
    }


def limited(rows: Iterable[Row], *, where: Where, max_rows: int) -> Iterator[Row]:
    """Pass rows through, refusing the file as soon as more than ``max_rows`` are not blank."""
    filled = 0
    for row_cells in rows:
        if any(cell_text(cell) for cell in row_cells[1]):
            filled += 1
            if filled > max_rows:
                raise InputError(msg("augment.rows.too_many", where=where, limit=f"{max_rows:,}"))
        yield row_cells
