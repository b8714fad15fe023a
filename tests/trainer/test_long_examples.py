"""One long example cannot exhaust the machine (issue #15, item 5): a line longer than
MAX_EXAMPLE_BYTES is refused naming it, by the trainer and by the training process, and the
training process tokenizes no more of an example than the tokens it keeps. Memory figures:
``python bench/trainer_memory.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from tests.trainer.jobs import chat_examples, run_worker, write_jsonl, write_spec
from tests.trainer.service import (
    create_job,
    jsonl,
    upload,
    wait_for_status,
)
from tests.trainer.tiny_models import SMOLLM2_TEMPLATE, tiny_tokenizer
from trainer.chat_data import MAX_EXAMPLE_BYTES, ChatExample, tokenize_example


def _with_a_long_answer(examples: list[dict[str, Any]], index: int, chars: int) -> None:
    examples[index]["messages"][-1]["content"] = "だっちゃ" * (chars // 4)


async def test_a_line_longer_than_the_limit_fails_the_job_naming_it(client: AsyncOpenAI):
    examples = chat_examples(12)
    _with_a_long_answer(examples, 4, MAX_EXAMPLE_BYTES)  # 3 bytes a character: 3x the limit
    file = await upload(client, jsonl(examples), name="robot.jsonl")
    job = await wait_for_status(client, (await create_job(client, file.id)).id)
    assert job.status == "failed"
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert job.error.message.startswith("robot.jsonl line 5: the example is ")
    assert f"at most {MAX_EXAMPLE_BYTES:,} bytes" in job.error.message


def test_the_training_process_refuses_a_long_line_too(tmp_path: Path, tiny_base: Path):
    examples = chat_examples(8)
    _with_a_long_answer(examples, 2, MAX_EXAMPLE_BYTES)
    training = write_jsonl(tmp_path / "train.jsonl", examples)
    code, lines = run_worker(write_spec(tmp_path / "job", base=tiny_base, training_file=training))
    assert code == 1
    assert lines[-1]["type"] == "failed"
    assert lines[-1]["error"].startswith("train.jsonl line 3: the example is ")


class CountingTokenizer:
    """The real tokenizer, noting the longest text it was given."""

    def __init__(self, tokenizer: Any):
        self._tokenizer = tokenizer
        self.longest = 0

    def __call__(self, text: str, **options: Any) -> Any:
        self.longest = max(self.longest, len(text))
        return self._tokenizer(text, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


def test_a_long_example_is_tokenized_only_as_far_as_it_is_kept():
    tokenizer = tiny_tokenizer(SMOLLM2_TEMPLATE)
    messages = [
        {"role": "user", "content": "おはなしして"},
        {"role": "assistant", "content": "むかしむかし、" * 20_000},  # 140,000 characters
    ]
    counting = CountingTokenizer(tokenizer)
    cut = tokenize_example(counting, ChatExample(1, messages), max_length=256)
    whole = tokenize_example(tokenizer, ChatExample(1, messages), max_length=10**6)

    assert cut.input_ids == whole.input_ids[:256] and cut.labels == whole.labels[:256]
    assert cut.truncated and len(cut.input_ids) == 256
    assert counting.longest < 256 * 20  # not the 140,000 characters
