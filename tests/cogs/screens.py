"""What a volunteer reads in Discord, and whether any of it is left in the other language."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tests.fakes.discord import FakeMessage

# Kana, kanji and half-width katakana: any of them makes a text (partly) Japanese.
JAPANESE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")

# What stays as it is in a Japanese text: ids and names people type or copy, not words to
# translate. Code spans (`ft:gpt-4o-mini:...`, `ftjob-...`), Discord mentions and timestamps
# (<@123>, <t:1700000000:R>), slash commands with their options (/train dataset:1), file names
# (スタックチャン-duplicate.jsonl).
_NOT_WORDS = (
    re.compile(r"`[^`]*`"),
    re.compile(r"<(@|#|t:)[^>]*>"),
    re.compile(r"/[a-z]+( [a-z_]+:\S+)*"),
    re.compile(r"[\w.-]+\.(xlsx|jsonl|csv|png)\b"),
)
# The names that are the same in both languages: the product and the service, the sheet the
# template names, the augmentation methods and option names as typed in commands, "ID".
_NAMES = frozenset({"kobo", "OpenAI", "LearningData", "duplicate", "bert", "count", "ID"})
# Two or more Latin letters in a row: a word (single letters are column names, B列).
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_LETTER = re.compile(r"[^\W\d_]")


def _without_ids(text: str, ids: Iterable[str] = ()) -> str:
    for known in sorted(ids, key=len, reverse=True):  # a model name before its base's
        text = text.replace(known, " ")
    for pattern in _NOT_WORDS:
        text = pattern.sub(" ", text)
    return text


def english_left(text: str, ids: Iterable[str] = ()) -> set[str]:
    """The Latin words of a Japanese screen that are neither ids nor names: untranslated text.

    ``ids``: what else the screens may show as it is (people's names, model names).
    """
    return set(_LATIN_WORD.findall(_without_ids(text, ids))) - _NAMES


def screen_texts(message: FakeMessage) -> list[str]:
    """Everything readable on a message: its text, embeds and button labels."""
    labels = [button["label"] for button in message.buttons if button.get("label")]
    return [message.text, *labels]


def modal_texts(modal: dict) -> list[str]:
    """A form's title and its fields' labels."""
    labels = [c["label"] for c in modal.get("components", []) if c.get("label")]
    return [modal["title"], *labels]


def check_language(texts: Iterable[str], language: str, ids: Iterable[str] = ()) -> None:
    """Every text reads in ``language`` alone: for Japanese, no English left beside the ids and
    names (``ids``: as in :func:`english_left`); for English, no Japanese at all."""
    texts, ids = list(texts), list(ids)
    assert texts, "no text to check"
    if language == "ja":
        leaks = {t: words for t in texts if (words := english_left(t, ids))}
        assert not leaks, f"English left in Japanese screens: {leaks}"
        # A text of ids and symbols only ("▶") has nothing to translate; any other is Japanese.
        words = [t for t in texts if _LETTER.search(_without_ids(t, ids))]
        english = [t for t in words if not JAPANESE_SCRIPT.search(t)]
        assert not english, f"screens left in English: {english}"
    else:
        japanese = [t for t in texts if JAPANESE_SCRIPT.search(t)]
        assert not japanese, f"Japanese in English screens: {japanese}"
