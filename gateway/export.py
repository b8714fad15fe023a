"""Turning a local fine-tune into GGUF files for llama.cpp, once, cached beside the model.

- a LoRA fine-tune: ``<job folder>/gguf/adapter-f16.gguf``, applied per request on its base;
- its base model, converted once per base however many fine-tunes use it:
  ``DATA_DIR/models/_base/<base name>-<hash of its source>/model-<type>.gguf``;
- a full fine-tune: ``<job folder>/gguf/model-<type>.gguf``.

``<type>`` is LOCAL_ENGINE_BASE_TYPE: q8_0 (default; on a 2-core CPU llama.cpp answers about
1.6x faster than in f16, README) or f16. Conversion runs llama.cpp's own converter scripts
(third_party/llama.cpp) in a child process, offline; a file appears under its final name only
once complete, so an interrupted export is simply done again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from gateway.errors import UpstreamUnavailable
from gateway.local_models import LocalModel
from i18n import msg

log = logging.getLogger(__name__)

CONVERTER_DIR = Path(__file__).resolve().parent.parent / "third_party" / "llama.cpp"
# What of a failed converter's output the error shows (its last lines say what went wrong).
ERROR_TAIL_LINES = 3
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
)


def base_gguf_folder(models_dir: Path, base_model: str, base_source: str) -> Path:
    """Where a base model's GGUF is kept, once for all its LoRA fine-tunes."""
    source_hash = hashlib.sha256(base_source.encode("utf-8")).hexdigest()[:8]
    return models_dir / "_base" / f"{base_model}-{source_hash}"


class ExportFailed(UpstreamUnavailable):
    def __init__(self, model: str, reason: str):
        super().__init__(msg("gateway.export_failed", model=model, reason=reason))


class GgufExporter:
    def __init__(self, models_dir: Path, base_type: str, converter_dir: Path = CONVERTER_DIR):
        self.models_dir = models_dir
        self.base_type = base_type
        self._converter_dir = converter_dir
        self._locks: dict[Path, asyncio.Lock] = {}

    async def model_gguf(self, model: LocalModel) -> Path:
        """The GGUF the engine loads for ``model``: its base's (LoRA) or its own (full)."""
        if model.method == "full":
            target = model.folder / "gguf" / f"model-{self.base_type}.gguf"
            return await self._once(target, model, self._convert_full)
        target = self._base_folder(model) / f"model-{self.base_type}.gguf"
        return await self._once(target, model, self._convert_base)

    async def adapter_gguf(self, model: LocalModel) -> Path:
        target = model.folder / "gguf" / "adapter-f16.gguf"
        return await self._once(target, model, self._convert_adapter)

    def _base_folder(self, model: LocalModel) -> Path:
        return base_gguf_folder(self.models_dir, model.base_model, model.base_source)

    async def _once(self, target: Path, model: LocalModel, convert) -> Path:
        lock = self._locks.setdefault(target, asyncio.Lock())
        async with lock:  # concurrent first requests share one conversion
            if not await asyncio.to_thread(target.is_file):
                started = time.monotonic()
                await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
                partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
                try:
                    await convert(model, partial)
                    await asyncio.to_thread(os.replace, partial, target)
                finally:
                    await asyncio.to_thread(partial.unlink, missing_ok=True)
                log.info(
                    "exported %s for %s in %.1f s", target, model.name, time.monotonic() - started
                )
        return target

    async def _convert_base(self, model: LocalModel, out: Path) -> None:
        source = await asyncio.to_thread(self._local_source, model)
        await self._run(
            model, "convert_hf_to_gguf.py", str(source), "--outfile", str(out),
            "--outtype", self.base_type,
        )  # fmt: skip

    async def _convert_full(self, model: LocalModel, out: Path) -> None:
        staged = await asyncio.to_thread(_with_tokenizer, model)
        try:
            await self._run(
                model, "convert_hf_to_gguf.py", str(staged), "--outfile", str(out),
                "--outtype", self.base_type,
            )  # fmt: skip
        finally:
            if staged != model.weights:
                await asyncio.to_thread(shutil.rmtree, staged, True)

    async def _convert_adapter(self, model: LocalModel, out: Path) -> None:
        source = await asyncio.to_thread(self._local_source, model)
        await self._run(
            model, "convert_lora_to_gguf.py", str(model.weights), "--base", str(source),
            "--outfile", str(out), "--outtype", "f16",
        )  # fmt: skip

    def _local_source(self, model: LocalModel) -> Path:
        """The base model's folder: its source as given, or the Hugging Face cache's copy."""
        given = Path(model.base_source).expanduser()
        if given.is_dir():
            return given
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(model.base_source, local_files_only=True))
        except Exception as exc:  # offline and not cached, or not a Hugging Face id at all
            raise ExportFailed(
                model.name, f"the base model {model.base_source} is not on this machine ({exc})"
            ) from None

    async def _run(self, model: LocalModel, script: str, *args: str) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("NO_LOCAL_GGUF", None)  # the scripts must use their own gguf-py
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(self._converter_dir / script),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        tail: deque[str] = deque(maxlen=ERROR_TAIL_LINES)
        assert process.stdout is not None
        try:
            async for line in process.stdout:
                text = line.decode("utf-8", "replace").strip()
                if text:
                    tail.append(text)
                    log.debug("%s: %s", script, text)
            status = await process.wait()
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if status != 0:
            raise ExportFailed(model.name, " / ".join(tail) or f"{script} exited with {status}")


def _with_tokenizer(model: LocalModel) -> Path:
    """``full/`` itself when it holds the tokenizer; else a temporary folder linking ``full/``'s
    files and the tokenizer saved beside it, which is what the converter reads."""
    weights = model.weights
    if any((weights / name).is_file() for name in ("tokenizer.json", "tokenizer.model")):
        return weights
    staged = Path(tempfile.mkdtemp(prefix=".export-", dir=model.folder))
    for item in weights.iterdir():
        (staged / item.name).symlink_to(item.resolve())
    for name in TOKENIZER_FILES:
        if (model.folder / name).is_file():
            (staged / name).symlink_to((model.folder / name).resolve())
    return staged
