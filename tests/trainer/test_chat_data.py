"""Chat JSONL -> tokens and labels: exactly the assistant's tokens are trained, whatever the
template (SmolLM2's ChatML, LFM2's, Gemma's turns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.jobs import write_jsonl
from tests.trainer.tiny_models import LFM2_TEMPLATE, SMOLLM2_TEMPLATE, tiny_tokenizer
from trainer.base_models import GEMMA_CHAT_TEMPLATE
from trainer.chat_data import (
    IGNORED,
    ChatExample,
    ChatTemplateError,
    TrainingDataError,
    most_common_system_prompt,
    read_chat_examples,
    tokenize_example,
)

CONVERSATION = [
    {"role": "system", "content": "あなたはスタックチャンです。"},
    {"role": "user", "content": "好きな食べ物は?"},
    {"role": "assistant", "content": "りんごだっちゃ！"},
    {"role": "user", "content": "How are you?"},
    {"role": "assistant", "content": "元気だっちゃ！"},
]


def trained_text(tokenizer, example) -> str:
    return tokenizer.decode(
        [
            token
            for token, label in zip(example.input_ids, example.labels, strict=True)
            if label != IGNORED
        ]
    )


@pytest.mark.parametrize(
    ("template", "end_of_turn"),
    [
        (SMOLLM2_TEMPLATE, "<|im_end|>\n"),
        (LFM2_TEMPLATE, "<|im_end|>\n"),
        (GEMMA_CHAT_TEMPLATE, "<end_of_turn>\n"),
    ],
    ids=["smollm2", "lfm2", "gemma"],
)
def test_only_the_assistant_answers_and_their_end_of_turn_are_trained(template, end_of_turn):
    tokenizer = tiny_tokenizer(template)
    example = tokenize_example(tokenizer, ChatExample(1, CONVERSATION), max_length=1000)

    assert tokenizer.decode(example.input_ids) == tokenizer.apply_chat_template(
        CONVERSATION, tokenize=False
    )
    assert trained_text(tokenizer, example) == (
        f"りんごだっちゃ！{end_of_turn}元気だっちゃ！{end_of_turn}"
    )
    # Labels are the tokens themselves where trained (the model shifts them).
    assert all(
        label in (IGNORED, token)
        for token, label in zip(example.input_ids, example.labels, strict=True)
    )
    assert example.chars == sum(len(m["content"]) + len(m["role"]) for m in CONVERSATION)


def test_a_conversation_without_system_text_keeps_smollm2s_default_prompt_untrained():
    tokenizer = tiny_tokenizer(SMOLLM2_TEMPLATE)
    messages = CONVERSATION[1:3]
    example = tokenize_example(tokenizer, ChatExample(1, messages), max_length=1000)
    assert "You are a helpful AI assistant" in tokenizer.decode(example.input_ids)
    assert trained_text(tokenizer, example) == "りんごだっちゃ！<|im_end|>\n"


def test_the_gemma_template_folds_the_system_text_into_the_first_user_turn():
    rendered = tiny_tokenizer(GEMMA_CHAT_TEMPLATE).apply_chat_template(
        CONVERSATION[:3], tokenize=False, add_generation_prompt=False
    )
    assert rendered == (
        "<|startoftext|><start_of_turn>user\nあなたはスタックチャンです。\n\n好きな食べ物は?"
        "<end_of_turn>\n<start_of_turn>model\nりんごだっちゃ！<end_of_turn>\n"
    )


def test_an_assistant_message_with_weight_0_is_not_trained():
    tokenizer = tiny_tokenizer(SMOLLM2_TEMPLATE)
    messages = [*CONVERSATION[:2], {**CONVERSATION[2], "weight": 0}, *CONVERSATION[3:]]
    example = tokenize_example(tokenizer, ChatExample(1, messages), max_length=1000)
    assert trained_text(tokenizer, example) == "元気だっちゃ！<|im_end|>\n"


def test_a_long_example_is_cut_to_the_limit_and_says_how_long_it_was():
    tokenizer = tiny_tokenizer(SMOLLM2_TEMPLATE)
    full = tokenize_example(tokenizer, ChatExample(1, CONVERSATION), max_length=1000)
    limit = len(full.input_ids) - 5
    cut = tokenize_example(tokenizer, ChatExample(1, CONVERSATION), max_length=limit)
    assert cut.input_ids == full.input_ids[:limit]
    assert cut.labels == full.labels[:limit]
    assert cut.truncated and cut.full_length == len(full.input_ids)
    assert not full.truncated


def test_a_template_that_rewrites_earlier_turns_is_refused():
    # Renders the last user message differently once an answer follows (as some "thinking"
    # templates do): the assistant's part cannot be found by rendering prefixes.
    template = (
        "{% for m in messages %}{% if loop.last %}[{{ m['content'] }}]"
        "{% else %}{{ m['content'] }}{% endif %}{% endfor %}"
    )
    tokenizer = tiny_tokenizer(template)
    with pytest.raises(ChatTemplateError, match="assistant's part cannot be found"):
        tokenize_example(tokenizer, ChatExample(1, CONVERSATION), max_length=1000)


def test_a_bad_line_is_named_with_its_file_and_line(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"messages": CONVERSATION[:3]},
            {"messages": [{"role": "user", "content": "hi"}]},
            {"messages": CONVERSATION[:3]},
        ],
    )
    with pytest.raises(TrainingDataError) as raised:
        read_chat_examples(path, name="train.jsonl")
    assert str(raised.value) == "train.jsonl line 2: has no assistant message"


def test_an_empty_file_and_a_missing_file_are_named(tmp_path: Path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(
        TrainingDataError, match=r"empty\.jsonl: needs at least 1 examples, found 0"
    ):
        read_chat_examples(tmp_path / "empty.jsonl", name="empty.jsonl")
    with pytest.raises(TrainingDataError, match=r"gone\.jsonl: cannot be read"):
        read_chat_examples(tmp_path / "gone.jsonl", name="gone.jsonl")


def test_the_system_prompt_of_the_model_is_the_one_most_examples_have():
    def example(system: str | None) -> ChatExample:
        head = [{"role": "system", "content": system}] if system else []
        return ChatExample(1, [*head, *CONVERSATION[1:3]])

    assert most_common_system_prompt([example("a"), example("b"), example("b")]) == "b"
    assert most_common_system_prompt([example(None), example(None)]) is None
