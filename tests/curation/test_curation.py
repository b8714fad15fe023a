"""The Discord-free parts of curation: reading what people type, what counts as a duplicate,
where a search hit is, and examples stored with their provenance."""

from __future__ import annotations

import json

import pytest

from augment import Example, augment
from curation.export import export
from curation.merge import dataset_ids, normalized
from curation.records import augment_records, search_text
from curation.search import search_words, snippet
from curation.store import DatasetStore
from i18n import LocalizedError, text


def test_dataset_numbers_are_read_as_people_type_them():
    assert dataset_ids("3 5 7") == [3, 5, 7]
    assert dataset_ids("#3, #5、7") == [3, 5, 7]
    with pytest.raises(LocalizedError) as refused:
        dataset_ids("3 五")
    assert refused.value.render("ja") == text("curation.merge.not_a_number", "ja", typed="五")
    assert str(refused.value) == text("curation.merge.not_a_number", "en", typed="五")


def test_examples_that_differ_only_in_width_or_spacing_are_the_same():
    one = {"messages": [{"role": "user", "content": "ＡＢＣ  と 犬 "}]}
    other = {"messages": [{"content": "ABC と 犬", "role": "user"}]}
    assert json.dumps(normalized(one), sort_keys=True) == json.dumps(
        normalized(other), sort_keys=True
    )
    assert normalized({"messages": [{"content": "犬"}]}) != normalized(
        {"messages": [{"content": "猫"}]}
    )


def test_a_search_is_words_and_a_bad_one_says_why():
    assert search_words("ペンギン　魚 ペンギン") == ["ペンギン", "魚"]  # full-width space too
    for query, key, params in (
        ("   ", "curation.search.empty", {}),
        ("x" * 101, "curation.search.too_long", {"limit": 100}),
        (" ".join("abcdefghijk"), "curation.search.too_many_words", {"limit": 10}),
    ):
        with pytest.raises(LocalizedError) as refused:
            search_words(query)
        assert refused.value.render("ja") == text(key, "ja", **params)


def test_a_snippet_is_cut_around_the_first_word_found():
    piece = snippet("ああ、ねえ、ペンギンは何を食べますか？", ["ペンギ"], width=3)
    assert (piece.before, piece.match, piece.after) == ("…ねえ、", "ペンギ", "ンは何…")
    whole = snippet("ねえ、ペンギン", ["ペンギ"], width=3)
    assert (whole.before, whole.match, whole.after) == ("ねえ、", "ペンギ", "ン")
    assert snippet("Hello World", ["world"]).match == "World"


def test_augmented_examples_are_stored_with_their_original_and_the_change():
    originals = [
        Example.from_turns("sys", "犬と遊ぶ", "うん"),
        Example.from_turns("sys", "猫", "にゃ"),
    ]
    result = augment(originals, method="duplicate", count=2)
    records = augment_records(result)
    assert [r.origin_line for r in records] == [None, None, 1, 2]
    assert records[0].text == "犬と遊ぶ\nうん"  # what search reads: not the system prompt
    assert json.loads(records[2].json) == originals[0].to_json_object()
    assert search_text({"messages": "not a list"}) == ""


async def test_export_refuses_a_format_it_does_not_write(db, tmp_path):
    with pytest.raises(LocalizedError) as refused:
        await export(DatasetStore.over(db, tmp_path), 1, "exe")
    assert refused.value.render("en") == text(
        "curation.export.unknown_format", "en", format="exe", formats="xlsx, csv, jsonl"
    )
