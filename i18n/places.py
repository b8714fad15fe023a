"""Where in a sheet something is, named the way Excel shows it ("3行目 B列", "row 3, column B")."""

from __future__ import annotations

from i18n.catalogue import text
from i18n.languages import Language


def column_letters(column: int) -> str:
    """Excel's letters for the ``column``-th column: 1 is A, 26 is Z, 27 is AA, 703 is AAA.

    No upper bound: a CSV file can be wider than Excel's last column (XFD).
    """
    if column < 1:
        raise ValueError(f"columns count from 1, not {column}")
    letters = ""
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _check_row(row: int) -> None:
    if row < 1:
        raise ValueError(f"rows count from 1, not {row}")


def row_name(row: int, language: Language) -> str:
    """``row`` counts from 1 like Excel's row numbers: "3行目" / "row 3"."""
    _check_row(row)
    return text("place.row", language, row=row)


def column_name(column: int, language: Language) -> str:
    """``column`` counts from 1 (A): "B列" / "column B"."""
    return text("place.column", language, column=column_letters(column))


def cell_name(row: int, column: int, language: Language) -> str:
    """Both count from 1 like Excel: ``cell_name(3, 2, "ja")`` is "3行目 B列"."""
    _check_row(row)
    return text("place.cell", language, row=row, column=column_letters(column))
