"""A fill-mask model (BERT-like masked LM): loading, and top-k predictions for masked sentences.

Two ways to predict, which must give the same token ids:

* ``top_k_batched`` - what the engine uses: all masked sentences of a file, sorted by token
  length so a batch needs little padding, run ``batch_size`` at a time with an attention mask;
  the vocabulary head runs only on the mask positions instead of on every token.
* ``top_k_one_at_a_time`` - the reference: one sentence per forward pass of the whole model,
  like the workshop's first script. Tests and the benchmark compare the two.

torch and transformers are imported inside the functions so that ``import augment`` stays cheap
for a bot that may never use this method.

The first run with a Hub model downloads it (hundreds of MB): ``on_download(bytes_so_far)`` is
told how far the download got, from what has reached the Hugging Face cache folder, so a person
waiting sees something move.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augment.candidates import TokenRules
from augment.errors import ModelLoadError
from i18n import msg

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "tohoku-nlp/bert-base-japanese-v3"
DEFAULT_BATCH_SIZE = 32
HUB_PROBE_SECONDS = 5.0
# How often the download's size is looked at: a progress message changes every few seconds.
DOWNLOAD_POLL_SECONDS = 0.25
WORD_START_MARKERS = ("▁", "Ġ")  # SentencePiece and byte-level BPE mark the start of a word
CONTINUATION_PREFIX = "##"  # WordPiece marks a piece that continues a word

_cache: dict[str, _Loaded] = {}
_cache_lock = threading.Lock()


@dataclass
class _Loaded:
    """One loaded tokenizer + model, shared by every FillMaskModel of the same name."""

    tokenizer: Any
    model: Any
    # Serialises use of the model: the Japanese tokenizer's MeCab tagger is not thread-safe, and
    # two inferences at once on two cores would only slow each other down.
    lock: threading.Lock


DownloadProgress = Callable[[int], None]


def load_fill_mask(
    name_or_path: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_download: DownloadProgress | None = None,
) -> FillMaskModel:
    """Load (once per process) the model at a local directory or with a Hugging Face Hub id.

    Raises ModelLoadError with a one-line reason when it cannot be loaded or has no mask token.
    While a Hub model downloads, ``on_download(bytes_so_far)`` is called from other threads: at
    once with what is there, then whenever it grew.
    """
    if batch_size < 1:
        raise ModelLoadError(msg("augment.model.batch_size", size=batch_size))
    key = _cache_key(name_or_path)
    with _cache_lock:
        loaded = _cache.get(key)
        if loaded is None:
            loaded = _load(name_or_path, on_download)
            _cache[key] = loaded
            # torch and transformers leave hundreds of thousands of long-lived objects; a full
            # garbage collection over them, triggered from the worker thread, holds the GIL
            # long enough to stall the bot's event loop (>100 ms, see bench/augment.py).
            # Freezing moves them out of the collector's reach.
            gc.freeze()
    return FillMaskModel(name_or_path, loaded, batch_size)


def _cache_key(name_or_path: str) -> str:
    path = Path(name_or_path).expanduser()
    return str(path.resolve()) if path.exists() else name_or_path


def _load(name_or_path: str, on_download: DownloadProgress | None) -> _Loaded:
    if _looks_like_a_path(name_or_path) and not Path(name_or_path).expanduser().is_dir():
        raise ModelLoadError(msg("augment.model.no_directory", model=name_or_path))
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no tqdm bars in the bot's log
        try:
            # A Hub model downloaded before: no network round trip (and no retries offline).
            tokenizer, model = _from_pretrained(name_or_path, local_files_only=True)
        except OSError:
            _require_hub(name_or_path)
            with _watching_download(name_or_path, on_download):
                tokenizer, model = _from_pretrained(name_or_path, local_files_only=False)
    except ModelLoadError:
        raise
    except Exception as error:  # transformers raises OSError, ValueError, ImportError, ...
        raise ModelLoadError(
            msg("augment.model.cannot_load", model=name_or_path, reason=_first_line(error))
        ) from error
    if tokenizer.mask_token is None or tokenizer.mask_token_id is None:
        raise ModelLoadError(msg("augment.model.no_mask", model=name_or_path))
    if model.config.vocab_size < len(tokenizer.get_vocab()):
        raise ModelLoadError(
            msg(
                "augment.model.vocab_mismatch",
                model=name_or_path,
                tokens=len(tokenizer.get_vocab()),
                vocabulary=model.config.vocab_size,
            )
        )
    model.eval()
    return _Loaded(tokenizer=tokenizer, model=model, lock=threading.Lock())


def _require_hub(name: str) -> None:
    """Ask the Hub once, briefly: unreachable, huggingface_hub would retry each file for about
    a minute, logging every try, before saying the same."""
    from huggingface_hub import constants, get_session

    if constants.HF_HUB_OFFLINE:
        reason = msg("augment.model.offline")
    else:
        try:
            get_session().head(f"{constants.ENDPOINT}/api/models/{name}", timeout=HUB_PROBE_SECONDS)
            return  # any answer, even "not found", means the download can be tried
        except Exception:  # the HTTP client's connect, timeout and proxy errors
            reason = msg("augment.model.hub_unreachable", endpoint=constants.ENDPOINT)
    raise ModelLoadError(msg("augment.model.not_cached", model=name, reason=reason))


@contextmanager
def _watching_download(name: str, on_download: DownloadProgress | None) -> Iterator[None]:
    """Report the size of the model's Hugging Face cache folder while the block runs.

    Watching the folder (where huggingface_hub writes each file, ``*.incomplete`` while it
    arrives) needs no hook into transformers, which offers none for from_pretrained.
    """
    if on_download is None:
        yield
        return
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    blobs = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=name, repo_type="model")
    blobs /= "blobs"
    done = threading.Event()

    def watch() -> None:
        reported = None
        while True:
            size = _folder_bytes(blobs)
            if size != reported:
                on_download(size)
                reported = size
            if done.wait(DOWNLOAD_POLL_SECONDS):
                return

    watcher = threading.Thread(target=watch, name="model-download-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _folder_bytes(folder: Path) -> int:
    """Bytes of the files in ``folder`` (0 while it does not exist); files may come and go."""
    total = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue  # renamed from .incomplete to its final name meanwhile
    return total


def _from_pretrained(name_or_path: str, *, local_files_only: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    path = name_or_path
    if _looks_like_a_path(name_or_path):
        path = str(Path(name_or_path).expanduser())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_files_only)
    model = AutoModelForMaskedLM.from_pretrained(path, local_files_only=local_files_only)
    return tokenizer, model


def _looks_like_a_path(name_or_path: str) -> bool:
    """A Hub id is "name" or "owner/name"; anything else (absolute, ./, ~, a\\b) is a path."""
    path = Path(name_or_path).expanduser()
    return path.is_absolute() or name_or_path.startswith((".", "~")) or path.is_dir()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    reason = text[0] if text else type(error).__name__
    return reason if len(reason) <= 300 else reason[:297] + "..."


def clear_cache() -> None:
    """Forget loaded models (tests that load a broken model under a reused path need this)."""
    with _cache_lock:
        _cache.clear()


class FillMaskModel:
    def __init__(self, name: str, loaded: _Loaded, batch_size: int) -> None:
        self.name = name
        self.batch_size = batch_size
        self._loaded = loaded
        tokenizer = loaded.tokenizer
        self.tokenizer = tokenizer
        self.model = loaded.model
        self.mask_token: str = tokenizer.mask_token
        self.mask_token_id: int = tokenizer.mask_token_id
        self.pad_token_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.max_length: int = min(
            int(getattr(self.model.config, "max_position_embeddings", 512)),
            int(tokenizer.model_max_length) if tokenizer.model_max_length else 512,
        )
        vocab = tokenizer.get_vocab()
        uses_prefix = any(token.startswith(CONTINUATION_PREFIX) for token in vocab)
        word_start_marker = next(
            (
                m
                for m in WORD_START_MARKERS
                if sum(t.startswith(m) for t in vocab) > len(vocab) // 10
            ),
            None,
        )
        self.token_rules = TokenRules(
            special_ids=frozenset(tokenizer.all_special_ids),
            special_tokens=frozenset(tokenizer.all_special_tokens),
            continuation_prefix=CONTINUATION_PREFIX if uses_prefix else None,
            word_start_marker=word_start_marker,
        )

    def token(self, token_id: int) -> str:
        return str(self.tokenizer.convert_ids_to_tokens(token_id))

    def encode(self, masked_text: str) -> tuple[list[int], int] | None:
        """Token ids and the mask's position, or None when the text is too long for the model
        or does not contain exactly one mask (a user who typed "[MASK]" themselves)."""
        ids = list(self.tokenizer(masked_text, add_special_tokens=True)["input_ids"])
        if len(ids) > self.max_length or ids.count(self.mask_token_id) != 1:
            return None
        return ids, ids.index(self.mask_token_id)

    def top_k_batched(
        self,
        masked_texts: Sequence[str],
        top_k: int,
        on_batch: Callable[[list[int]], None] | None = None,
    ) -> list[list[int]]:
        """Top-k token ids at the mask of each text ([] for texts ``encode`` refuses).

        ``on_batch`` gets the indexes of the texts each finished batch covered.
        """
        import torch

        with self._loaded.lock:
            encoded = [self.encode(text) for text in masked_texts]
            results: list[list[int]] = [[] for _ in masked_texts]
            usable = [index for index, item in enumerate(encoded) if item is not None]
            skipped = [index for index, item in enumerate(encoded) if item is None]
            if skipped and on_batch is not None:
                on_batch(skipped)
            usable.sort(key=lambda index: len(encoded[index][0]))  # type: ignore[index]
            encoder, head = self._encoder_and_head()
            with torch.inference_mode():
                for start in range(0, len(usable), self.batch_size):
                    batch = usable[start : start + self.batch_size]
                    items = [encoded[index] for index in batch]
                    top = self._batch_top_k(items, top_k, encoder, head)  # type: ignore[arg-type]
                    for index, ids in zip(batch, top, strict=True):
                        results[index] = ids
                    if on_batch is not None:
                        on_batch(batch)
            return results

    def _batch_top_k(
        self,
        items: list[tuple[list[int], int]],
        top_k: int,
        encoder: Any,
        head: Any,
    ) -> list[list[int]]:
        import torch

        width = max(len(ids) for ids, _ in items)
        input_ids = torch.full((len(items), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, (ids, _) in enumerate(items):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
        positions = torch.tensor([position for _, position in items], dtype=torch.long)
        rows = torch.arange(len(items))
        if head is None:
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            at_mask = logits[rows, positions]
        else:
            hidden = encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            at_mask = head(hidden[rows, positions])
        return _top_ids(at_mask, top_k)

    def _encoder_and_head(self) -> tuple[Any, Any]:
        """The encoder and the vocabulary head, for architectures we know; else (None, None)
        and the full model runs (slower: it scores every token of every sentence)."""
        model = self.model
        for encoder_name, head_name in (("bert", "cls"), ("roberta", "lm_head")):
            encoder = getattr(model, encoder_name, None)
            head = getattr(model, head_name, None)
            if encoder is not None and head is not None:
                return encoder, head
        return None, None

    def top_k_one_at_a_time(self, masked_texts: Sequence[str], top_k: int) -> list[list[int]]:
        """Reference: one masked sentence per forward pass of the full model, no padding."""
        import torch

        results: list[list[int]] = []
        with self._loaded.lock, torch.inference_mode():
            for text in masked_texts:
                item = self.encode(text)
                if item is None:
                    results.append([])
                    continue
                ids, position = item
                input_ids = torch.tensor([ids], dtype=torch.long)
                logits = self.model(input_ids=input_ids).logits
                results.append(_top_ids(logits[0, position].unsqueeze(0), top_k)[0])
        return results


def _top_ids(scores: torch.Tensor, top_k: int) -> list[list[int]]:
    k = min(top_k, scores.shape[-1])
    return scores.topk(k, dim=-1).indices.tolist()
