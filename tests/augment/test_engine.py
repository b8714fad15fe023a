from __future__ import annotations

from pathlib import Path

import pytest

from augment import AugmentOptionError, Example, Rejection, augment, load_fill_mask
from augment.fill_mask import FillMaskModel
from augment.nouns import noun_spans

SYSTEM = "あなたはスタックチャンです。"


def rows(*users: str) -> list[Example]:
    return [Example.from_turns(SYSTEM, user, f"答え{i}") for i, user in enumerate(users)]


def user_texts(examples: list[Example]) -> list[str]:
    return [example.content_of("user") for example in examples]


# --- duplicate ---------------------------------------------------------------------------------


def test_duplicate_count_is_total_copies_originals_first() -> None:
    originals = rows("こんにちは", "元気？")
    result = augment(originals, method="duplicate", count=3)
    assert user_texts(result.examples) == ["こんにちは", "元気？"] * 3
    assert result.originals == originals
    assert result.counts == {"original": 2, "duplicate": 4}
    assert result.new_per_row == 2
    assert result.samples == []  # copies of the user's rows are not new sentences to show
    assert not result.capped


def test_duplicate_is_capped_by_the_operator_setting() -> None:
    result = augment(rows("a", "b"), method="duplicate", count=10, max_new_per_row=1)
    assert user_texts(result.examples) == ["a", "b", "a", "b"]
    assert (result.count, result.new_per_row, result.capped) == (10, 1, True)
    assert augment(rows("a"), method="duplicate", count=1).new_examples == []
    # A cap the count stays under is no cap.
    assert not augment(rows("a"), method="duplicate", count=3, max_new_per_row=2).capped


def test_duplicate_reports_progress_done() -> None:
    calls: list[tuple[int, int]] = []
    augment(
        rows("a", "b", "c"), method="duplicate", count=2, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (3, 3)


def test_every_new_example_says_which_original_it_copies() -> None:
    result = augment(rows("a", "b"), method="duplicate", count=3)
    assert [(p.row, p.turn, p.before) for p in result.provenance] == [
        (0, None, None),
        (1, None, None),
    ] * 2


# --- bert, with rigged models whose predictions are known -------------------------------------


def test_japanese_nouns_replaced_in_place_with_bad_predictions_turned_down(
    rigged_japanese: FillMaskModel,
) -> None:
    originals = rows("私の犬は元気です。", "ねえ、 犬 と 猫 が 好き！", "こんにちは")
    result = augment(originals, method="bert", count=4, top_k=9, fill_mask=rigged_japanese)

    # Round robin over the nouns by rank; every rest of the sentence stays as typed.
    assert user_texts(result.new_examples) == [
        "私の猫は元気です。",
        "私の犬は犬です。",
        "私の鳥は元気です。",
        "ねえ、 猫 と 猫 が 好き！",
        "ねえ、 犬 と 犬 が 好き！",
        "ねえ、 鳥 と 猫 が 好き！",
    ]
    assert result.examples[:3] == originals
    new = result.new_examples[0]
    assert new.content_of("system") == SYSTEM and new.content_of("assistant") == "答え0"
    assert result.counts == {"original": 3, "bert": 6}
    assert result.rows_without_new == 1  # こんにちは has no noun
    # Four masked nouns, each predicted [UNK] 。 ##ル 犬 [CLS] before the real words.
    assert result.rejected == {
        Rejection.SPECIAL: 8,
        Rejection.SYMBOL: 4,
        Rejection.SUBWORD: 4,
        Rejection.SAME: 3,
    }
    # Spread over the output: first, middle, last.
    assert result.samples == [
        "私の猫は元気です。",
        "私の鳥は元気です。",
        "ねえ、 鳥 と 猫 が 好き！",
    ]


def test_english_words_replaced_in_place_keeping_capitals(rigged_english: FillMaskModel) -> None:
    originals = rows("My cat is here.", "Paris is a city!")
    result = augment(originals, method="bert", count=3, top_k=9, fill_mask=rigged_english)
    assert user_texts(result.new_examples) == [
        "My dog is here.",
        "My bird is here.",
        "Cat is a city!",
        "Paris is a cat!",
    ]


def test_sentences_already_in_the_data_are_never_produced(rigged_japanese: FillMaskModel) -> None:
    originals = rows("私の犬", "私の猫")
    result = augment(
        originals, method="bert", count=3, top_k=9, fill_mask=rigged_japanese, existing={"私の花"}
    )
    # 私の猫 is row 2's original, 私の鳥/私の魚 are row 1's new ones, 私の花 exists elsewhere.
    assert user_texts(result.new_examples) == ["私の鳥", "私の魚"]
    assert result.rejected[Rejection.DUPLICATE] == 5
    assert result.rows_without_new == 1
    assert len(set(user_texts(result.examples))) == len(result.examples)


def test_rows_that_share_a_masked_sentence_each_get_their_variants(
    rigged_japanese: FillMaskModel,
) -> None:
    # Both rows mask to "[MASK]の本": predicted once, used for both. 猫の本 and 犬の本 are
    # originals and 鳥の本 is row 1's, so row 2 goes on to its next candidates.
    result = augment(rows("犬の本", "猫の本"), method="bert", count=3, fill_mask=rigged_japanese)
    assert user_texts(result.new_examples) == ["犬の犬", "鳥の本", "猫の犬", "猫の猫"]
    assert result.rejected[Rejection.DUPLICATE] == 3


def test_count_and_operator_cap_limit_new_examples_per_row(rigged_japanese: FillMaskModel) -> None:
    originals = rows("私の犬は元気です。")
    assert (
        len(augment(originals, method="bert", count=100, fill_mask=rigged_japanese).new_examples)
        == 9
    )
    capped = augment(
        originals, method="bert", count=100, max_new_per_row=2, fill_mask=rigged_japanese
    )
    assert user_texts(capped.new_examples) == ["私の猫は元気です。", "私の犬は犬です。"]
    assert (capped.new_per_row, capped.capped) == (2, True)


def test_each_user_turn_of_a_conversation_is_augmented_on_its_own(
    rigged_japanese: FillMaskModel,
) -> None:
    conversation = Example(
        messages=(
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "犬は好き？"},
            {"role": "assistant", "content": "好き", "weight": 0},
            {"role": "user", "content": "猫は？"},
            {"role": "assistant", "content": "猫も好き", "weight": 1},
        ),
        extra={"metadata": {"id": 7}},
    )
    result = augment([conversation], method="bert", count=3, top_k=9, fill_mask=rigged_japanese)
    assert [example.to_json_object() for example in result.new_examples] == [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "猫は好き？"},
                {"role": "assistant", "content": "好き", "weight": 0},
                {"role": "user", "content": "猫は？"},
                {"role": "assistant", "content": "猫も好き", "weight": 1},
            ],
            "metadata": {"id": 7},
        },
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "犬は好き？"},
                {"role": "assistant", "content": "好き", "weight": 0},
                {"role": "user", "content": "犬は？"},
                {"role": "assistant", "content": "猫も好き", "weight": 1},
            ],
            "metadata": {"id": 7},
        },
    ]


def test_progress_counts_rows_up_to_the_total(rigged_japanese: FillMaskModel) -> None:
    originals = rows(*(f"私の犬と{word}" for word in "猫鳥魚花山海空本"), "こんにちは")
    calls: list[tuple[int, int]] = []
    augment(
        originals,
        method="bert",
        count=2,
        fill_mask=rigged_japanese,  # batch size 4: several batches
        progress=lambda done, total: calls.append((done, total)),
    )
    assert len(calls) >= 4
    assert all(total == 9 for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[0] >= 1 and done[-1] == 9


# --- bert, with a random model: whatever it predicts, only one noun changes --------------------


def test_random_model_changes_exactly_one_noun_span(japanese_model_dir: Path) -> None:
    model = load_fill_mask(str(japanese_model_dir), batch_size=5)
    originals = rows("私の犬は元気です。", "東京タワーに行きました。", "今日の天気は？ 空 と 海 。")
    result = augment(originals, method="bert", count=6, top_k=30, fill_mask=model)
    vocab = set(model.tokenizer.get_vocab())
    assert result.new_examples
    for new in result.new_examples:
        source = next(
            o for o in originals if o.content_of("assistant") == new.content_of("assistant")
        )
        before, after = source.content_of("user"), new.content_of("user")
        assert any(
            after[: span.start] == before[: span.start]
            and after.endswith(before[span.end :])
            and after[span.start : len(after) - (len(before) - span.end)] in vocab
            for span in noun_spans(before)
        ), after


# --- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "shuffle", "count": 2}, "unknown method 'shuffle'"),
        ({"method": "duplicate", "count": 0}, "count must be at least 1"),
        ({"method": "bert", "count": 1}, "count 1 would keep only the originals"),
        ({"method": "bert", "count": 3, "top_k": 0}, "top_k must be between 1 and 200"),
        ({"method": "bert", "count": 3, "fill_mask": None}, "the bert method needs a fill-mask"),
        ({"method": "duplicate", "count": 3, "max_new_per_row": -1}, "cannot be negative"),
    ],
)
def test_bad_options_are_refused(
    rigged_english: FillMaskModel, options: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"fill_mask": rigged_english, **options}
    with pytest.raises(AugmentOptionError, match=message):
        augment(rows("My cat is here."), **arguments)  # type: ignore[arg-type]


def test_a_bad_option_is_explained_in_japanese_too(rigged_english: FillMaskModel) -> None:
    with pytest.raises(AugmentOptionError) as error:
        augment(rows("My cat is here."), method="bert", count=1, fill_mask=rigged_english)
    assert error.value.render("ja") == (
        "count が 1 だと元の例しか残りません。bert では 2 以上を指定してください"
        "（count は、データを最大で何倍にするかです）。"
    )


def test_every_bert_variant_says_which_noun_became_which_word(
    rigged_japanese: FillMaskModel,
) -> None:
    originals = rows("私の犬は元気です。", "こんにちは", "ねえ、 犬 と 猫 が 好き！")
    result = augment(originals, method="bert", count=3, top_k=9, fill_mask=rigged_japanese)
    assert len(result.provenance) == len(result.new_examples)
    for example, made in zip(result.new_examples, result.provenance, strict=True):
        original = originals[made.row].content_of("user")
        assert original[made.start : made.end] == made.before
        # The new sentence is the original with exactly that span replaced by ``after``.
        assert example.content_of("user") == (
            original[: made.start] + made.after + original[made.end :]
        )
        assert made.turn == 1 and made.before != made.after
    assert {made.row for made in result.provenance} == {0, 2}
