"""Lists of messages joined the way each language joins them."""

from __future__ import annotations

import pytest

from i18n import msg, row
from i18n.joining import joined


def column(letter: str):
    return msg("place.column", column=letter)


def test_names_end_with_and_in_each_language():
    names = joined([column("A"), column("B"), column("D")], style="names")
    assert names.render("en") == "column A, column B and column D"
    assert names.render("ja") == "A列、B列とD列"


def test_clauses_are_separated_and_the_rest_counted():
    rows = joined([row(3), row(5)], more=4)
    assert rows.render("en") == "row 3; row 5; and 4 more"
    assert rows.render("ja") == "3行目／5行目／ほか4件"


def test_one_item_is_itself():
    assert joined([row(2)]).render("ja") == "2行目"
    assert joined([row(2)], style="names").render("en") == "row 2"


def test_an_empty_list_is_a_bug():
    with pytest.raises(ValueError, match="at least one"):
        joined([])
