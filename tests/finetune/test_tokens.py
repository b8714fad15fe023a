from __future__ import annotations

import hashlib
import os

import pytest
import tiktoken.load

from finetune.tokens import (
    KNOWN_ENCODINGS,
    MAX_CHARS_PER_TOKEN,
    count_example_tokens,
    count_text_tokens,
    get_encoding,
    seed_tiktoken_cache,
)

# Published examples: tiktoken's README ("hello world"), and OpenAI's cookbook "How to count
# tokens with tiktoken" (the other four, with their counts per encoding).
KNOWN = [
    ("hello world", "cl100k_base", 2),
    ("hello world", "o200k_base", 2),
    ("tiktoken is great!", "cl100k_base", 6),
    ("tiktoken is great!", "o200k_base", 6),
    ("antidisestablishmentarianism", "cl100k_base", 6),
    ("antidisestablishmentarianism", "o200k_base", 6),
    ("2 + 2 = 4", "cl100k_base", 7),
    ("2 + 2 = 4", "o200k_base", 7),
    ("お誕生日おめでとう", "cl100k_base", 9),
    ("お誕生日おめでとう", "o200k_base", 8),
]


@pytest.mark.parametrize(("text", "encoding", "tokens"), KNOWN)
def test_token_counts_match_published_values(text, encoding, tokens):
    assert count_text_tokens(text, encoding) == tokens


def test_known_token_ids():
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert get_encoding("o200k_base").encode_ordinary("hello world") == [24912, 2375]


def test_example_tokens_are_counted_like_the_cookbook():
    messages = [
        {"role": "system", "content": "hello world"},  # 3 + role 1 + content 2
        {"role": "user", "content": "tiktoken is great!", "name": "kid"},  # 3 + 1 + 6 + 1 + 1
        {"role": "assistant", "content": "2 + 2 = 4", "weight": 1},  # 3 + 1 + 7, weight not text
    ]
    assert count_example_tokens(messages, "cl100k_base") == 3 + (6) + (12) + (11)


def test_the_vocabulary_is_seeded_into_tiktokens_cache_without_network(tmp_path, monkeypatch):
    # The outside world here is the internet: make any download fail loudly.
    def no_network(url):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    expected = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"

    path = seed_tiktoken_cache("o200k_base", str(tmp_path))
    assert os.path.basename(path) == hashlib.sha1(url.encode()).hexdigest()
    ranks = tiktoken.load.load_tiktoken_bpe(url, expected_hash=expected)
    assert len(ranks) == 199998
    assert seed_tiktoken_cache("o200k_base", str(tmp_path)) == path  # already there: kept


def test_a_corrupt_cache_file_is_replaced(tmp_path):
    path = seed_tiktoken_cache("cl100k_base", str(tmp_path))
    with open(path, "wb") as f:
        f.write(b"garbage")
    seed_tiktoken_cache("cl100k_base", str(tmp_path))
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def test_unknown_encodings_are_refused():
    with pytest.raises(ValueError, match="unknown encoding 'p50k_base'"):
        get_encoding("p50k_base")


@pytest.mark.parametrize("encoding", KNOWN_ENCODINGS)
def test_no_token_covers_more_than_max_chars_per_token(encoding):
    # The "too long to count" check relies on it: a text has at least len / 128 tokens.
    longest = max(len(token) for token in get_encoding(encoding).token_byte_values())
    assert longest <= MAX_CHARS_PER_TOKEN
