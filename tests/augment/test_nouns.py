from __future__ import annotations

import threading

from augment.nouns import noun_spans


def spans(text: str) -> list[tuple[int, int, str]]:
    return [(span.start, span.end, span.text) for span in noun_spans(text)]


def test_japanese_nouns_with_their_character_spans() -> None:
    assert spans("東京タワーに行きました。") == [(0, 2, "東京"), (2, 5, "タワー")]


def test_japanese_numerals_and_pronouns_are_not_nouns() -> None:
    # 私 is a pronoun, 3 a numeral; 月 and 日 (a suffix) stay as UniDic tags them.
    assert spans("私は3月に犬と公園へ行った") == [(3, 4, "月"), (5, 6, "犬"), (7, 9, "公園")]


def test_spans_survive_spaces_and_punctuation_between_japanese_tokens() -> None:
    text = "ねえ、 犬 と  猫 が 好き！"
    found = spans(text)
    assert found == [(4, 5, "犬"), (9, 10, "猫")]
    assert all(text[start:end] == word for start, end, word in found)


def test_english_content_words_only() -> None:
    text = "I really like the red apple, but my dog is here!"
    assert spans(text) == [(18, 21, "red"), (22, 27, "apple"), (36, 39, "dog")]


def test_tagging_from_several_threads_gives_the_same_spans() -> None:
    text = "スタックチャンとゲームをしよう！"
    expected = spans(text)
    results: list[list[tuple[int, int, str]]] = []

    def work() -> None:
        for _ in range(50):
            results.append(spans(text))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    assert all(result == expected for result in results)
