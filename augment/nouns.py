"""Where the nouns are in a sentence, as character spans of the original string.

Japanese (any kana or kanji in the sentence): MeCab through fugashi with unidic-lite; a noun is
a token whose first POS level is 名詞, except numerals (数詞: replacing "3" with "5" teaches
nothing) and auxiliary-verb stems (助動詞語幹, the "そう" of "そうだ"). Pronouns are a separate
POS (代名詞) in UniDic, so they are never picked.

Other text is treated as space-separated: we have no tagger for it, so a "noun" is an
alphabetic word of at least three letters that is not in a small stop-word list (pronouns,
articles, auxiliaries, common verbs and adverbs). That keeps content words, mostly nouns.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
SKIPPED_NOUN_KINDS = frozenset({"数詞", "助動詞語幹"})
MIN_WORD_LENGTH = 3
_STOP_WORDS_TEXT = """
    the and but for nor yet all any are was were been being have has had having does did doing
    done will would shall should can could may might must not you your yours our ours they them
    their theirs his her hers its this that these those who whom whose which what when where why
    how there here than then too very just also only even ever never always often some many
    much more most less few such each every both either neither other another into onto from
    with without about above below over under again once out off down upon like likes liked
    get gets got make makes made want wants wanted know knows knew think thinks thought say says
    said tell tells told see sees saw seen come comes came going goes went let lets please yes
    okay well really today tomorrow yesterday now hello bye thanks thank let's i'm you're
    it's don't can't isn't love loves loved hate hates hated play plays played eat eats ate
    """
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_local = threading.local()


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def _tagger() -> Any:
    # A MeCab tagger is not safe to share between threads: one per thread.
    tagger = getattr(_local, "tagger", None)
    if tagger is None:
        import fugashi

        tagger = fugashi.Tagger()
        _local.tagger = tagger
    return tagger


def is_japanese(text: str) -> bool:
    return JAPANESE.search(text) is not None


def noun_spans(text: str) -> list[Span]:
    return japanese_noun_spans(text) if is_japanese(text) else word_noun_spans(text)


def japanese_noun_spans(text: str) -> list[Span]:
    spans = []
    cursor = 0
    for word in _tagger()(text):
        surface = word.surface
        # MeCab drops whitespace between tokens; find each surface from where the last one ended.
        start = text.find(surface, cursor)
        if start < 0:
            continue
        cursor = start + len(surface)
        feature = word.feature
        if feature.pos1 == "名詞" and feature.pos2 not in SKIPPED_NOUN_KINDS:
            spans.append(Span(start, cursor, surface))
    return spans


def word_noun_spans(text: str) -> list[Span]:
    return [
        Span(match.start(), match.end(), match.group())
        for match in WORD.finditer(text)
        if len(match.group()) >= MIN_WORD_LENGTH and match.group().casefold() not in STOP_WORDS
    ]
