from __future__ import annotations

import pytest

from augment.candidates import Rejection, TokenRules, candidate_word

WORDPIECE = TokenRules(
    special_ids=frozenset({0, 1, 2, 3, 4}),
    special_tokens=frozenset({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}),
    continuation_prefix="##",
)
SENTENCEPIECE = TokenRules(
    special_ids=frozenset({0, 1}),
    special_tokens=frozenset({"<unk>", "<mask>"}),
    continuation_prefix=None,
    word_start_marker="▁",
)


@pytest.mark.parametrize(
    ("token", "token_id", "expected"),
    [
        ("[UNK]", 1, Rejection.SPECIAL),
        ("[MASK]", 4, Rejection.SPECIAL),
        ("[unused7]", 99, Rejection.SPECIAL),  # bracketed, not declared special
        ("<unk>", 98, Rejection.SPECIAL),
        ("##タワー", 50, Rejection.SUBWORD),
        ("。", 51, Rejection.SYMBOL),
        ("！？", 52, Rejection.SYMBOL),
        ("★", 53, Rejection.SYMBOL),
        ("犬!", 54, Rejection.SYMBOL),
        ("犬", 55, Rejection.SAME),
        ("猫", 56, "猫"),
        ("ドラえもん", 57, "ドラえもん"),
        ("3", 58, "3"),
    ],
)
def test_wordpiece_rules(token: str, token_id: int, expected: object) -> None:
    word = candidate_word(token, token_id, original="犬", starts_word=False, rules=WORDPIECE)
    assert word == expected


def test_same_word_ignores_case_and_capitals_are_kept() -> None:
    assert (
        candidate_word("paris", 9, original="Paris", starts_word=True, rules=WORDPIECE)
        == Rejection.SAME
    )
    assert (
        candidate_word("tokyo", 9, original="Paris", starts_word=True, rules=WORDPIECE) == "Tokyo"
    )
    assert candidate_word("tokyo", 9, original="city", starts_word=True, rules=WORDPIECE) == "tokyo"


def test_sentencepiece_marker_is_stripped_and_bare_pieces_cannot_start_a_word() -> None:
    rules = SENTENCEPIECE
    assert candidate_word("▁dog", 7, original="cat", starts_word=True, rules=rules) == "dog"
    assert candidate_word("dog", 7, original="cat", starts_word=True, rules=rules) == (
        Rejection.SUBWORD
    )
    # Inside Japanese text nothing starts a word with a space, so a bare piece is a whole word.
    assert candidate_word("猫", 8, original="犬", starts_word=False, rules=rules) == "猫"
    assert candidate_word("▁", 9, original="犬", starts_word=False, rules=rules) == Rejection.SYMBOL
    assert candidate_word("<mask>", 1, original="犬", starts_word=False, rules=rules) == (
        Rejection.SPECIAL
    )
