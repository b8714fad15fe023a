"""Rows and columns are named the way Excel shows them."""

from __future__ import annotations

import pytest
from openpyxl.utils import get_column_letter

from i18n import cell, column, column_letters, row


@pytest.mark.parametrize(
    ("column", "letters"),
    [(1, "A"), (2, "B"), (26, "Z"), (27, "AA"), (52, "AZ"), (53, "BA"), (702, "ZZ"), (703, "AAA")],
)
def test_column_letters_count_like_excel(column, letters):
    assert column_letters(column) == letters


def test_column_letters_agree_with_openpyxl_everywhere_it_goes():
    # openpyxl stops at ZZZ (18278); Excel itself at XFD (16384).
    assert [column_letters(n) for n in range(1, 18279)] == [
        get_column_letter(n) for n in range(1, 18279)
    ]
    assert column_letters(18279) == "AAAA"  # a CSV may be wider than any workbook


def test_cells_rows_and_columns_in_japanese():
    assert cell(3, 2).render("ja") == "3行目 B列"
    assert cell(12, 27).render("ja") == "12行目 AA列"
    assert row(3).render("ja") == "3行目"
    assert column(53).render("ja") == "BA列"


def test_cells_rows_and_columns_in_english():
    assert cell(3, 2).render("en") == "row 3, column B"
    assert cell(12, 52).render("en") == "row 12, column AZ"
    assert row(3).render("en") == "row 3"
    assert column(1).render("en") == "column A"


@pytest.mark.parametrize("bad", [0, -1])
def test_rows_and_columns_count_from_one(bad):
    with pytest.raises(ValueError, match="count from 1"):
        column_letters(bad)
    with pytest.raises(ValueError, match="count from 1"):
        row(bad)
    with pytest.raises(ValueError, match="count from 1"):
        cell(bad, 1)
