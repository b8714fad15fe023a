"""The loss on assistant tokens: computed from the trained positions' logits only when that gives
the model's own logits, from the model's full forward otherwise."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig

from tests.trainer.jobs import chat_examples
from tests.trainer.tiny_models import tiny_tokenizer
from trainer.chat_data import IGNORED, ChatExample, tokenize_example
from trainer.worker import AssistantLoss, collate


def batch_of(tokenizer, n: int = 3) -> dict[str, torch.Tensor]:
    examples = [
        tokenize_example(tokenizer, ChatExample(i, e["messages"]), max_length=200)
        for i, e in enumerate(chat_examples(n))
    ]
    return collate(examples, pad_id=tokenizer.pad_token_id, device=torch.device("cpu"))


def reference(model, batch) -> tuple[float, int]:
    """Cross-entropy from the model's own full logits, over the labelled next tokens."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORED
    )
    return float(loss), int((targets != IGNORED).sum())


def test_the_shortcut_is_taken_when_it_gives_the_models_own_loss(tiny_base):
    tokenizer = tiny_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    batch = batch_of(tokenizer)
    with torch.no_grad():
        loss_fn = AssistantLoss(model, autocast_dtype=None)
        loss, _, tokens = loss_fn(batch)
        expected, expected_tokens = reference(model, batch)
    assert loss_fn.selective
    assert tokens == expected_tokens
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_a_model_that_caps_its_logits_falls_back_to_its_own_forward():
    tokenizer = tiny_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=0.5,  # squeezes every logit into (-0.5, 0.5)
        initializer_range=0.5,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(config).eval()
    batch = batch_of(tokenizer)
    with torch.no_grad():
        loss_fn = AssistantLoss(model, autocast_dtype=None)
        loss, _, _ = loss_fn(batch)
        expected, _ = reference(model, batch)
    assert not loss_fn.selective
    assert float(loss) == pytest.approx(expected, rel=1e-5)
