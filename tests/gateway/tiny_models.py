"""A tiny local fine-tune laid out as a finished local training job leaves it (docs: design of
issue 9): ``DATA_DIR/models/<job id>/`` with ``adapter/`` (a peft LoRA, made with peft here), the
tokenizer beside it and ``kobo-model.json``; the random base model in a folder of its own.

Not tests/trainer/tiny_models.py: its character-level WordLevel tokenizer is one llama.cpp's
converter refuses (it knows BPE pre-tokenizers only by the hashes of real models). This one is
what Llama 2 ships: BPE with byte fallback and a "▁" word marker, which the converter reads as a
SentencePiece-style ("llama") vocabulary, needing no pre-tokenizer hash at all.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer, decoders, models, normalizers, trainers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from gateway.export import GgufExporter
from gateway.local_models import LocalModelIndex
from tests.trainer.tiny_models import save_tiny_llama

SPECIAL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
BYTES = [f"<0x{value:02X}>" for value in range(256)]
CORPUS = [
    "hello robot how are you today",
    "I am a robot and I like to talk with children",
    "こんにちは ロボット です 元気 ですか",
    "system user assistant",
] * 10
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n'"
    " + message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    bpe.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    bpe.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=420, special_tokens=SPECIAL + BYTES, show_progress=False
    )
    bpe.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="<|im_end|>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>", "</s>"],
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def build_base_model(folder: Path, *, seed: int = 0) -> Path:
    """A random 2-layer Llama with :func:`tiny_tokenizer`, saved as from the Hub."""
    return save_tiny_llama(folder, tiny_tokenizer(), hidden_size=64, max_positions=1024, seed=seed)


def build_local_fine_tune(
    models_dir: Path,
    base: Path,
    *,
    job_id: str,
    suffix: str,
    seed: int,
    system_prompt: str | None = "You are a robot.",
) -> str:
    """A finished LoRA job in ``models_dir/<job_id>``; returns its model name."""
    folder = models_dir / job_id
    model = LlamaForCausalLM.from_pretrained(base)
    torch.manual_seed(seed)
    lora = get_peft_model(
        model,
        LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
            init_lora_weights=False,
        ),
    )
    with torch.no_grad():  # a strong adapter: its answers differ from the base model's
        for name, weight in lora.named_parameters():
            if "lora_B" in name:
                weight.mul_(40)
    lora.save_pretrained(folder / "adapter")
    tiny_tokenizer().save_pretrained(folder)
    name = f"ft:tiny-llama:kobo:{suffix}:{job_id[6:14]}"
    description = {
        "model": name,
        "job_id": job_id,
        "base_model": "tiny-llama",
        "base_source": str(base),
        "method": "lora",
        "chat_template": CHATML,
        "system_prompt": system_prompt,
        "created_at": 1_790_000_000,
    }
    (folder / "kobo-model.json").write_text(json.dumps(description), encoding="utf-8")
    return name


@dataclass(frozen=True)
class LocalFineTunes:
    """Two LoRA fine-tunes of one tiny base, exported to GGUF as kobo does on first use."""

    models_dir: Path  # copy it to DATA_DIR/models
    base: Path
    first: str
    second: str

    def install(self, data_dir: Path) -> Path:
        """Copy the models (GGUF cache included) into ``data_dir/models``."""
        target = data_dir / "models"
        shutil.copytree(self.models_dir, target, symlinks=True, dirs_exist_ok=True)
        return target


def prepare_local_fine_tunes(folder: Path) -> LocalFineTunes:
    """Build both fine-tunes and export them with kobo's own exporter (the real converters)."""
    base = build_base_model(folder / "base")
    models_dir = folder / "models"
    first = build_local_fine_tune(
        models_dir, base, job_id="ftjob-" + "a" * 24, suffix="one", seed=1
    )
    second = build_local_fine_tune(
        models_dir, base, job_id="ftjob-" + "b" * 24, suffix="two", seed=2, system_prompt=None
    )

    async def export() -> None:
        index = LocalModelIndex(models_dir)
        exporter = GgufExporter(models_dir, "q8_0")
        for name in (first, second):
            model = await index.find(name)
            await exporter.model_gguf(model)
            await exporter.adapter_gguf(model)

    asyncio.run(export())
    return LocalFineTunes(models_dir, base, first, second)
