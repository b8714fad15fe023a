"""Where in a sheet something is, named the way Excel shows it ("3行目 B列", "row 3, column B").

Each is a :class:`~i18n.Message`, rendered in the reader's language like any other.
"""

from __future__ import annotations

from i18n.message import Message, msg


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


def _check_row(number: int) -> None:
    if number < 1:
        raise ValueError(f"rows count from 1, not {number}")


def row(number: int) -> Message:
    """Row ``number`` of a sheet, counted from 1 as Excel shows it: "3行目" / "row 3"."""
    _check_row(number)
    return msg("place.row", row=number)


def column(number: int) -> Message:
    """Column ``number``, counted from 1 (A): "B列" / "column B"."""
    return msg("place.column", column=column_letters(number))


def cell(row_number: int, column_number: int) -> Message:
    """A cell, both counted from 1 as in Excel: ``cell(3, 2)`` is "3行目 B列" / "row 3, column
    B"."""
    _check_row(row_number)
    return msg("place.cell", row=row_number, column=column_letters(column_number))
