"""Tiny fill-mask models the tests build and save themselves (no download, ever).

``build_model`` writes a vocab.txt, a tokenizer and a seeded BertForMaskedLM into a directory.
``rigged`` token lists get huge output biases in that order, so every mask predicts exactly
those tokens first: the engine's filtering and ordering can then be checked sentence by sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, BertJapaneseTokenizer, BertTokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_JAPANESE_WORDS_TEXT = (
    "私 の 犬 猫 鳥 魚 は 元気 です 。 、 ！ ？ 東京 タワー に 行き まし た 好き な 食べ物 りんご "
    "ねえ と が スタック チャン ゲーム を しよう 今日 天気 名前 学校 公園 本 電車 花 山 海 空"
)
JAPANESE_WORDS = _JAPANESE_WORDS_TEXT.split()
KANA = list("あいうえおかきくけこさしすせそたちつてとなにぬねのまみむめもやゆよらりるれろわをん")
KANA += list("アイウエオカキクケコサシスセソタチツテトナニヌネノマミムメモラリルレロワン")
_ENGLISH_WORDS_TEXT = (
    "my cat dog bird fish is here i like the red apple banana park school book train . , ! ? ' "
    "a an to go went play with friend tokyo paris city we love music game robot stack chan -"
)
ENGLISH_WORDS = _ENGLISH_WORDS_TEXT.split()
PIECES = ["##s", "##ing", "##ed", "##er", "##ル", "##ー", "##ン"]


def write_vocab(directory: Path, words: Sequence[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(dict.fromkeys([*SPECIALS, *words])) + "\n", encoding="utf-8")
    return vocab


def japanese_tokenizer(directory: Path) -> BertJapaneseTokenizer:
    vocab = write_vocab(directory, [*JAPANESE_WORDS, *KANA, *PIECES, *("##" + k for k in KANA)])
    # The same settings as tohoku-nlp/bert-base-japanese-v3's tokenizer_config.json.
    return BertJapaneseTokenizer(
        str(vocab),
        do_lower_case=False,
        word_tokenizer_type="mecab",
        subword_tokenizer_type="wordpiece",
        mecab_kwargs={"mecab_dic": "unidic_lite"},
    )


def english_tokenizer(directory: Path) -> BertTokenizer:
    letters = list("abcdefghijklmnopqrstuvwxyz")
    vocab = write_vocab(
        directory, [*ENGLISH_WORDS, *letters, *PIECES, *("##" + c for c in letters)]
    )
    return BertTokenizer(str(vocab), do_lower_case=True)


def build_model(
    directory: Path,
    tokenizer: BertTokenizer | BertJapaneseTokenizer,
    *,
    seed: int = 0,
    rigged: Sequence[str] = (),
    max_positions: int = 64,
) -> Path:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    model = BertForMaskedLM(config).eval()
    if rigged:
        ids = tokenizer.convert_tokens_to_ids(list(rigged))
        assert tokenizer.unk_token_id not in ids or "[UNK]" in rigged, "rigged token not in vocab"
        with torch.no_grad():
            bias = model.cls.predictions.decoder.bias
            bias.zero_()
            for rank, token_id in enumerate(ids):
                bias[token_id] = 1000.0 - 10.0 * rank
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
