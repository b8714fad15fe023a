from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from augment import ModelLoadError, load_fill_mask
from augment.fill_mask import FillMaskModel
from augment.nouns import noun_spans

JAPANESE_SENTENCES = [
    "犬",
    "私の犬は元気です。",
    "東京タワーに行きました。",
    "ねえ、 犬 と 猫 が 好き！ 今日 の 天気 は 空 も 海 も 山 も 花 も 本 も 好き",
    "好きな食べ物はりんごです。",
    "スタックチャンとゲームをしよう！",
    "今日は学校の公園で電車の本を読んだ。",
]
ENGLISH_SENTENCES = [
    "A dog.",
    "My cat is here.",
    "I like the red apple, banana and music with my friend in the park after school.",
    "Stack chan went to Tokyo and Paris by train.",
    "We love robot games!",
]


def masked_variants(model: FillMaskModel, sentences: list[str]) -> list[str]:
    return [
        text[: span.start] + model.mask_token + text[span.end :]
        for text in sentences
        for span in noun_spans(text)
    ]


def test_japanese_model_loads_with_mecab_tokenizer(japanese_model_dir: Path) -> None:
    model = load_fill_mask(str(japanese_model_dir), batch_size=4)
    assert type(model.tokenizer).__name__ == "BertJapaneseTokenizer"
    assert model.tokenizer.tokenize("私の[MASK]は元気です。") == [
        "私",
        "の",
        "[MASK]",
        "は",
        "元気",
        "です",
        "。",
    ]
    assert model.mask_token == "[MASK]"


def test_model_is_loaded_once_and_shared(english_model_dir: Path) -> None:
    loaded: list[FillMaskModel] = []

    def load() -> None:
        loaded.append(load_fill_mask(str(english_model_dir), batch_size=8))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = load_fill_mask(str(english_model_dir) + "/", batch_size=2)
    assert len({id(model.model) for model in [*loaded, again]}) == 1
    assert again.batch_size == 2


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 64])
def test_batched_predictions_equal_one_sentence_at_a_time(
    japanese_model_dir: Path, english_model_dir: Path, batch_size: int
) -> None:
    for directory, sentences in (
        (japanese_model_dir, JAPANESE_SENTENCES),
        (english_model_dir, ENGLISH_SENTENCES),
    ):
        model = load_fill_mask(str(directory), batch_size=batch_size)
        texts = masked_variants(model, sentences)
        lengths = {len(model.encode(text)[0]) for text in texts}  # type: ignore[index]
        assert len(texts) >= 10 and len(lengths) >= 4  # real padding differences

        batched = model.top_k_batched(texts, 12)
        reference = model.top_k_one_at_a_time(texts, 12)

        assert batched == reference
        assert all(len(ids) == 12 for ids in batched)


def test_batches_report_every_text_once(japanese_model_dir: Path) -> None:
    model = load_fill_mask(str(japanese_model_dir), batch_size=3)
    texts = masked_variants(model, JAPANESE_SENTENCES)
    seen: list[list[int]] = []
    model.top_k_batched(texts, 5, on_batch=seen.append)
    assert sorted(index for batch in seen for index in batch) == list(range(len(texts)))
    assert max(len(batch) for batch in seen) == 3


def test_text_too_long_or_without_exactly_one_mask_gets_no_prediction(
    english_model_dir: Path,
) -> None:
    model = load_fill_mask(str(english_model_dir))
    too_long = "my cat " * 40 + "[MASK]"  # the tiny model has 64 positions
    texts = [too_long, "my [MASK] and [MASK]", "no mask here", "my [MASK] is here."]
    assert model.top_k_batched(texts, 3)[:3] == [[], [], []]
    assert model.top_k_one_at_a_time(texts, 3)[:3] == [[], [], []]
    assert len(model.top_k_batched(texts, 3)[3]) == 3


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError) as error:
        load_fill_mask(str(missing))
    message = str(error.value)
    assert (
        message == f"cannot load the fill-mask model {str(missing)!r}: there is no such directory."
    )
    assert "\n" not in message and "Traceback" not in message


def test_directory_without_weights_is_a_clear_error(
    tmp_path: Path, english_model_dir: Path
) -> None:
    broken = tmp_path / "no-weights"
    shutil.copytree(english_model_dir, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"^cannot load the fill-mask model"):
        load_fill_mask(str(broken))


def test_unreadable_config_is_a_clear_error(tmp_path: Path, english_model_dir: Path) -> None:
    broken = tmp_path / "bad-config"
    shutil.copytree(english_model_dir, broken)
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"^cannot load the fill-mask model"):
        load_fill_mask(str(broken))


def test_model_that_is_not_a_masked_lm_is_a_clear_error(
    tmp_path: Path, english_model_dir: Path
) -> None:
    broken = tmp_path / "gpt"
    shutil.copytree(english_model_dir, broken)
    config = json.loads((broken / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "gpt2"
    config["architectures"] = ["GPT2LMHeadModel"]
    (broken / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"^cannot load the fill-mask model"):
        load_fill_mask(str(broken))


def test_batch_size_must_be_positive(english_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="batch size must be at least 1"):
        load_fill_mask(str(english_model_dir), batch_size=0)
