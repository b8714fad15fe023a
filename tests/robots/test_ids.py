"""Model names and robot numbers: what is wrong, as a catalogue message in either language."""

from __future__ import annotations

import pytest

from i18n import LocalizedError, msg
from robots.model_ids import InvalidModelId, validate_model_id
from robots.stack_ids import MAX_STACK_ID, InvalidStackId, parse_stack_id, validate_stack_id


@pytest.mark.parametrize(
    ("name", "message", "japanese"),
    [
        ("  ", msg("robots.model_id.empty"), "モデル名が空です。"),
        (
            "x" * 129,
            msg("robots.model_id.too_long", length=129, limit=128),
            "モデル名が 129 文字あります。128 文字以内にしてください。",
        ),
        (
            "ロボ 1",
            msg("robots.model_id.bad_characters", characters="' ' 'ボ' 'ロ'"),
            "モデル名に使えない文字 ' ' 'ボ' 'ロ' が入っています。",
        ),
        ("-gpt", msg("robots.model_id.bad_start"), "モデル名は英字か数字で始めてください。"),
    ],
)
def test_a_bad_model_name_says_why_in_japanese_and_english(name, message, japanese):
    with pytest.raises(InvalidModelId) as raised:
        validate_model_id(name)
    error = raised.value
    assert isinstance(error, LocalizedError) and isinstance(error, ValueError)
    assert error.message == message
    assert error.render("ja").startswith(japanese)
    assert str(error) == error.render("en") == message.render("en")


def test_a_robot_number_out_of_range_says_which_numbers_exist():
    with pytest.raises(InvalidStackId) as raised:
        validate_stack_id(0)
    assert raised.value.message == msg(
        "robots.stack_id.out_of_range", stack_id=0, limit=MAX_STACK_ID
    )
    assert raised.value.render("ja") == (
        "0 番のロボットはありません。ロボットの番号は 1 から 2147483647 までです。"
        "番号を確かめてもう一度入力してください。"
    )
    assert str(raised.value) == (
        "There is no robot number 0: robot numbers go from 1 to 2147483647."
    )


@pytest.mark.parametrize(
    ("sent", "english"),
    [
        (None, "number is missing"),
        ("", "number is empty"),
        ("4a", "number must be a positive whole number, got '4a'"),
        ("000", "number must be at least 1, got '000'"),
        ("9" * 11, "number is too large (at most 2147483647)"),
        ("0" * 20 + "7", "number is too long (at most 20 digits)"),
    ],
)
def test_robots_are_told_in_english_whatever_the_servers_language(sent, english):
    # The device API answers with str(): robots' JSON errors stay English.
    with pytest.raises(InvalidStackId) as raised:
        parse_stack_id(sent, "number")
    assert str(raised.value) == english
    assert raised.value.render("ja") != english  # and the message has a Japanese text too
