"""Full-text search over every example of every dataset (the index is in storage)."""

from __future__ import annotations

from dataclasses import dataclass

from curation.store import DatasetStore
from i18n import LocalizedError, msg
from storage.dataset_examples import SearchPage

MAX_QUERY_LENGTH = 100
MAX_WORDS = 10


def search_words(query: str) -> list[str]:
    """The words of a query (split at spaces, full-width ones included); each must be found."""
    if len(query) > MAX_QUERY_LENGTH:
        raise LocalizedError(msg("curation.search.too_long", limit=MAX_QUERY_LENGTH))
    words = list(dict.fromkeys(query.split()))
    if not words:
        raise LocalizedError(msg("curation.search.empty"))
    if len(words) > MAX_WORDS:
        raise LocalizedError(msg("curation.search.too_many_words", limit=MAX_WORDS))
    return words


async def search(store: DatasetStore, query: str, *, offset: int, limit: int) -> SearchPage:
    return await store.examples.search(search_words(query), offset=offset, limit=limit)


@dataclass(frozen=True)
class Snippet:
    """A piece of an example's text around the first word found: ``before``, the ``match``
    itself, ``after`` (cut with "…" where the text goes on)."""

    before: str
    match: str
    after: str


def snippet(text: str, words: list[str], width: int = 40) -> Snippet:
    one_line = " ".join(text.split())
    folded = one_line.casefold()
    if len(folded) != len(one_line):  # "ß" folds to "ss": positions would no longer match
        folded = one_line
    found = [(folded.find(word.casefold()), word) for word in words]
    found = [(at, word) for at, word in found if at >= 0]
    if not found:
        return Snippet("", "", _clip_end(one_line, 2 * width))
    at, word = min(found)
    end = at + len(word)
    before = one_line[max(0, at - width) : at]
    after = one_line[end : end + width]
    return Snippet(
        ("…" if at > width else "") + before,
        one_line[at:end],
        after + ("…" if end + width < len(one_line) else ""),
    )


def _clip_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
