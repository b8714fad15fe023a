"""Which fill-mask predictions may replace a noun, and the word each one puts in the sentence."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

# Bracketed tokens that a vocabulary may hold without declaring them special ([unused3], <pad>).
SPECIAL_LOOKING = re.compile(r"^(\[[^\[\]\s]+\]|<[^<>\s]+>)$")
# Letters, marks (the dakuten of a decomposed "が"), numbers: anything else is punctuation,
# a symbol, a space or a control character, none of which is a noun.
WORD_CATEGORIES = ("L", "M", "N")


class Rejection(StrEnum):
    SPECIAL = "special token"
    SUBWORD = "piece of a word"
    SYMBOL = "punctuation or symbol"
    SAME = "same as the original word"
    DUPLICATE = "sentence already in the data"


@dataclass(frozen=True)
class TokenRules:
    """What a tokenizer's vocabulary looks like, for telling words from pieces and specials."""

    special_ids: frozenset[int]
    special_tokens: frozenset[str]
    continuation_prefix: str | None = "##"
    word_start_marker: str | None = None


def candidate_word(
    token: str,
    token_id: int,
    *,
    original: str,
    starts_word: bool,
    rules: TokenRules,
) -> str | Rejection:
    """The replacement text for ``original``, or why ``token`` cannot be one.

    ``starts_word``: the noun follows a space or opens the sentence, so with a word-start marker
    vocabulary (SentencePiece "▁") a token without the marker would glue onto the previous word.
    """
    if token_id in rules.special_ids or token in rules.special_tokens:
        return Rejection.SPECIAL
    if SPECIAL_LOOKING.match(token):
        return Rejection.SPECIAL
    word = token
    if rules.continuation_prefix and word.startswith(rules.continuation_prefix):
        return Rejection.SUBWORD
    if rules.word_start_marker:
        if word.startswith(rules.word_start_marker):
            word = word[len(rules.word_start_marker) :]
        elif starts_word:
            return Rejection.SUBWORD
    if not word or not all(unicodedata.category(char)[0] in WORD_CATEGORIES for char in word):
        return Rejection.SYMBOL
    if word.casefold() == original.casefold():
        return Rejection.SAME
    if original[:1].isupper() and word.islower():
        # An uncased model answers "tokyo" for a capitalised "Paris": keep the sentence's casing.
        word = word[:1].upper() + word[1:]
    return word
