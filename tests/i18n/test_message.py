"""Messages are rendered in the reader's language, nested ones too; errors carry them."""

from __future__ import annotations

import pytest

from i18n import LocalizedError, Message, MessageParamsError, cell, msg, row


def test_a_message_is_rendered_in_the_language_asked_for():
    not_staff = msg("error.not_staff", command="train")
    assert not_staff.render("ja") == "/train はワークショップのスタッフだけが使えるコマンドです。"
    assert not_staff.render("en") == "Only workshop staff can use /train."


def test_nested_messages_follow_the_same_language():
    place = msg("place.cell", row=3, column="B")
    outer = msg("error.option_not_understood", value=place)
    assert "3行目 B列" in outer.render("ja")
    assert "row 3, column B" in outer.render("en")


def test_rows_and_cells_are_named_as_excel_shows_them():
    assert row(12).render("ja") == "12行目"
    assert cell(3, 2).render("ja") == "3行目 B列"
    assert cell(3, 28).render("en") == "row 3, column AB"


def test_wrong_params_fail_when_rendered():
    with pytest.raises(MessageParamsError):
        Message("place.cell", {"row": 3}).render("en")


def test_a_localized_error_is_english_in_logs_and_japanese_for_a_japanese_reader():
    error = LocalizedError(msg("error.not_staff", command="assign"))
    assert str(error) == "Only workshop staff can use /assign."
    assert error.render("ja") == "/assign はワークショップのスタッフだけが使えるコマンドです。"
