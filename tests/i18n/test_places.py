"""Rows and columns are named the way Excel shows them."""

from __future__ import annotations

import pytest
from openpyxl.utils import get_column_letter

from i18n import cell_name, column_letters, column_name, row_name


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
    assert cell_name(3, 2, "ja") == "3行目 B列"
    assert cell_name(12, 27, "ja") == "12行目 AA列"
    assert row_name(3, "ja") == "3行目"
    assert column_name(53, "ja") == "BA列"


def test_cells_rows_and_columns_in_english():
    assert cell_name(3, 2, "en") == "row 3, column B"
    assert cell_name(12, 52, "en") == "row 12, column AZ"
    assert row_name(3, "en") == "row 3"
    assert column_name(1, "en") == "column A"


@pytest.mark.parametrize("bad", [0, -1])
def test_rows_and_columns_count_from_one(bad):
    with pytest.raises(ValueError, match="count from 1"):
        column_letters(bad)
    with pytest.raises(ValueError, match="count from 1"):
        row_name(bad, "en")
    with pytest.raises(ValueError, match="count from 1"):
        cell_name(bad, 1, "ja")
