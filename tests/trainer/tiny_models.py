"""Tiny random causal LMs the tests build and save themselves (no download, ever).

``build_tiny_model(folder)`` writes a 2-layer Llama (hidden size 32) and a character-level
tokenizer (ASCII, kana, a few kanji and the special tokens of ChatML, LFM2 and Gemma) with a chat
template into ``folder``, as ``save_pretrained`` would for a model from the Hub. It takes well
under a second. h9-api and h9-bot tests reuse it: point ``LOCAL_BASE_MODELS`` at the folder
(:func:`base_models_setting`).
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

# ChatML as SmolLM2-135M-Instruct ships it (read from its GGUF): a default system prompt when the
# conversation has none.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging"
    " Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' +"
    " message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# LFM2's shape: ChatML opened by the BOS token.
LFM2_TEMPLATE = (
    "{{- bos_token -}}{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}"
    "{%- endfor -%}{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}"
)
CHATML_TEMPLATE = SMOLLM2_TEMPLATE

SPECIAL_TOKENS = [
    "<pad>",
    "<unk>",
    "<|startoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<start_of_turn>",
    "<end_of_turn>",
]
KANA = [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)]
KANJI = list("私犬猫鳥魚元気好食物今日天名前学校公園本電車花山海空東京行来見話先生友達")
CHARACTERS = [*string.printable[:95], "\n", *KANA, "ー", "。", "、", "！", "？", *KANJI]


def tiny_tokenizer(chat_template: str | None = CHATML_TEMPLATE) -> PreTrainedTokenizerFast:
    vocab = {token: index for index, token in enumerate(dict.fromkeys(SPECIAL_TOKENS + CHARACTERS))}
    model = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    model.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    model.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=model,
        bos_token="<|startoftext|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=SPECIAL_TOKENS[3:],
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def build_tiny_model(
    folder: Path, *, chat_template: str | None = CHATML_TEMPLATE, seed: int = 0
) -> Path:
    """Save a random 2-layer Llama and its tokenizer into ``folder``; returns ``folder``."""
    return save_tiny_llama(folder, tiny_tokenizer(chat_template), seed=seed)


def save_tiny_llama(
    folder: Path,
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden_size: int = 32,
    max_positions: int = 512,
    seed: int = 0,
) -> Path:
    """A random 2-layer Llama for ``tokenizer``, saved with it into ``folder`` as from the Hub."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        # Weights larger than the usual 0.02: a random model that small then has logits that
        # LoRA can move within a few steps, so the tests can see it learn, and greedy answers
        # do not hinge on rounding.
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def base_models_setting(name: str, folder: Path, *, chat_template: str | None = None) -> str:
    """A ``LOCAL_BASE_MODELS`` value (inline JSON) that adds the tiny model as ``name``."""
    fields: dict[str, object] = {
        "source": str(folder),
        "licence": "test model",
        "parameters": 60_000,
        "reference_chars_per_second": 5_000,
        "reference_peak_memory_bytes": 300_000_000,
    }
    if chat_template is not None:
        fields["chat_template"] = chat_template
    return json.dumps({"models": {name: fields}})
