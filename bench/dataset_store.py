"""Benchmark the dataset store: full-text search and recording review decisions.

    python bench/dataset_store.py [--quick] [--examples 100000] [--queries 30]

Table 1 - search over N stored examples (short Japanese chat turns made from templates and
nouns, stored through ``DatasetRepository.add`` in datasets of 1,000, so the trigram index is
filled by its triggers as in kobo). Each query is what ``/datasets search`` runs for one page:
the count of hits and the first 10, most recently stored first. "FTS5 trigram" is kobo's search
(``ExampleRepository.search``); "LIKE scan" is the same two statements with
``text LIKE '%word%'`` instead of the index, in the same run and on the same file. Target:
p95 < 50 ms for the trigram search on 2 cores.

Table 2 - recording review decisions (``ReviewRepository.decide``, one write transaction each)
from 8 concurrent reviewers on one dataset: each goes through the examples in its own order, so
many presses race for an example somebody else just decided (the ``ON CONFLICT`` path). Reports
the time of one decision as its caller sees it (p50 / p95 / max) and decisions per second.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation.records import record  # noqa: E402
from curation.store import DatasetStore  # noqa: E402
from storage.database import Database, escape_like  # noqa: E402
from storage.dataset_examples import ExampleRecord  # noqa: E402

DATASET_SIZE = 1_000
PAGE = 10
REVIEWERS = 8
TARGET_P95_MS = 50.0
_NOUNS_TEXT = """
    犬 猫 ペンギン イルカ うさぎ りんご バナナ いちご 電車 バス 学校 公園 図書館 先生 友達
    お母さん お父さん 本 ゲーム 音楽 映画 サッカー 野球 東京 大阪 海 山 川 空 雨 雪 夏 冬
    朝ごはん カレー ラーメン ロボット スタックチャン 宿題 誕生日 プレゼント 動物園 水族館
    遊園地 絵 歌 ダンス 花 星 月 恐竜 宇宙 パンダ きりん ケーキ おにぎり 自転車 飛行機
"""
NOUNS = _NOUNS_TEXT.split()
QUESTIONS = [
    "{a}は何を食べますか？",
    "好きな{a}は何？",
    "{a}と{b}、どっちが好き？",
    "今日は{a}で{b}を見たよ。",
    "{a}について教えて！",
    "明日は{a}に行きたいな。",
    "ねえ、{a}は{b}が好きなの？",
    "スタックチャン、{a}の歌を歌って！",
]
ANSWERS = [
    "{a}はおいしいよね！",
    "ぼくは{b}が好きだよ。",
    "{a}か、いいね！また教えてね。",
    "{a}と{b}の話、もっと聞きたいな。",
    "うーん、{a}はむずかしいなあ。",
]
# Words people look for: common and rare, three characters or more (the index's reach).
QUERIES = [
    "ペンギン",
    "ペンギ",
    "スタックチャン",
    "水族館",
    "何を食べ",
    "好きな",
    "恐竜の",
    "おにぎり",
    "宇宙の歌",
    "教えて",
    "パンダ 好きな",
    "キリンさん",
]


def examples(count: int) -> list[ExampleRecord]:
    rng = random.Random(0)
    made = []
    for _ in range(count):
        a, b = rng.sample(NOUNS, 2)
        messages = [
            {"role": "system", "content": "あなたはスタックチャンです。"},
            {"role": "user", "content": rng.choice(QUESTIONS).format(a=a, b=b)},
            {"role": "assistant", "content": rng.choice(ANSWERS).format(a=a, b=b)},
        ]
        made.append(record({"messages": messages}))
    return made


async def fill(store: DatasetStore, records: list[ExampleRecord]) -> float:
    started = time.perf_counter()
    for start in range(0, len(records), DATASET_SIZE):
        await store.datasets.add(
            records[start : start + DATASET_SIZE],
            name=f"bench-{start // DATASET_SIZE}",
            source_file="bench.xlsx",
            method="bert",
            operation="augment",
            by_id="1",
            by_name="bench",
        )
    return time.perf_counter() - started


async def like_page(db: Database, words: list[str]) -> int:
    """The same page as ``ExampleRepository.search``, by scanning with LIKE."""
    where = " AND ".join(["text LIKE ? ESCAPE '\\'"] * len(words))
    params = [f"%{escape_like(word)}%" for word in words]
    total = await db.fetchone(f"SELECT COUNT(*) AS n FROM dataset_examples WHERE {where}", params)
    await db.fetchall(
        f"SELECT dataset_id, line, example, text FROM dataset_examples WHERE {where}"
        " ORDER BY id DESC LIMIT ? OFFSET 0",
        [*params, PAGE],
    )
    return total["n"]


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


async def search_table(db: Database, store: DatasetStore, rounds: int) -> None:
    timings: dict[str, list[float]] = {"FTS5 trigram": [], "LIKE scan": []}
    hits: dict[str, int] = {}
    for _ in range(rounds):
        for query in QUERIES:
            words = query.split()
            started = time.perf_counter()
            page = await store.examples.search(words, offset=0, limit=PAGE)
            timings["FTS5 trigram"].append(time.perf_counter() - started)
            started = time.perf_counter()
            total = await like_page(db, words)
            timings["LIKE scan"].append(time.perf_counter() - started)
            assert page.indexed and page.total == total, (query, page.total, total)
            hits[query] = total
    print(f"{'search (count + first page)':<30}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, samples in timings.items():
        p50, p95, worst = percentiles(samples)
        print(f"{name:<30}{p50 * 1e3:>9.1f}{p95 * 1e3:>9.1f}{worst * 1e3:>9.1f}")
    fts, like = (statistics.median(timings[name]) for name in timings)
    p95 = percentiles(timings["FTS5 trigram"])[1] * 1e3
    verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
    print(f"trigram vs LIKE (p50): {like / fts:.1f}x faster; target p95 < 50 ms: {verdict}")
    print("hits per query: " + ", ".join(f"{q} {n:,}" for q, n in hits.items()))


async def review_table(store: DatasetStore, db: Database, examples_to_review: int) -> None:
    records = [ExampleRecord(r.json, r.text, origin_line=1) for r in examples(examples_to_review)]
    dataset = await store.datasets.add(
        records,
        name="to-review",
        source_file="bench.xlsx",
        method="bert",
        operation="augment",
        by_id="1",
        by_name="bench",
    )
    latencies: list[float] = []
    recorded = 0

    async def reviewer(number: int) -> None:
        nonlocal recorded
        lines = list(range(1, examples_to_review + 1))
        random.Random(number).shuffle(lines)
        for line in lines[: examples_to_review // 2]:
            started = time.perf_counter()
            _, mine = await store.reviews.decide(
                dataset.id,
                line,
                "keep" if number % 2 else "drop",
                edited_text=None,
                by_id=str(number),
                by_name=f"reviewer {number}",
            )
            latencies.append(time.perf_counter() - started)
            recorded += mine

    started = time.perf_counter()
    await asyncio.gather(*(reviewer(n) for n in range(REVIEWERS)))
    elapsed = time.perf_counter() - started
    decided = (await store.reviews.tally(dataset.id)).decided
    assert decided == recorded, (decided, recorded)
    p50, p95, worst = percentiles(latencies)
    print()
    print(f"{'review decisions':<30}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'per s':>9}")
    print(
        f"{f'{REVIEWERS} reviewers, {len(latencies):,} presses':<30}"
        f"{p50 * 1e3:>9.1f}{p95 * 1e3:>9.1f}{worst * 1e3:>9.1f}{len(latencies) / elapsed:>9.0f}"
    )
    lost = len(latencies) - recorded
    print(f"{recorded:,} examples decided once each; {lost:,} presses lost a race")


async def main_async(count: int, rounds: int, to_review: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        try:
            store = DatasetStore.over(db, Path(tmp) / "data")
            seconds = await fill(store, examples(count))
            size = (Path(tmp) / "bench.sqlite3").stat().st_size
            print(
                f"{count:,} examples stored in {seconds:.1f} s "
                f"({count / seconds:,.0f} a second, index included); database {size / 1e6:.0f} MB"
            )
            print()
            await search_table(db, store, rounds)
            await review_table(store, db, to_review)
        finally:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=30, help="rounds over the query list")
    parser.add_argument("--review", type=int, default=2_000, help="examples to review")
    parser.add_argument("--quick", action="store_true", help="10,000 examples, fewer rounds")
    args = parser.parse_args()
    if args.quick:
        args.examples, args.queries, args.review = 10_000, 5, 400
    asyncio.run(main_async(args.examples, args.queries, args.review))


if __name__ == "__main__":
    main()
