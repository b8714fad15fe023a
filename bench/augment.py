"""Benchmark the bert augmentation: batched engine vs one masked sentence per forward pass.

    python bench/augment.py [--quick] [--batch-size 32]

Table 1 - on a small and a base-size BERT (random weights, Japanese MeCab + WordPiece tokenizer
with a ~32k vocabulary built here, nothing downloaded), the same masked sentences go through
``FillMaskModel.top_k_batched`` (the engine), ``top_k_one_at_a_time`` (a tight loop: one
pre-tokenized sentence per forward pass) and transformers' ``pipeline("fill-mask")`` called once
per sentence (how the workshop's first script did it), and all must give the same top-k. Each
runs in its own subprocess so its memory is its own: "peak RSS" is the resident high-water mark
during the run (reset after loading), "+run" what the run added to the resident size before it.
Timings are the best of N runs.

Table 2 - the event loop's lag while ``augment`` runs 1,000 rows the way the bot runs it
(``await asyncio.to_thread(augment, ...)``), measured by a coroutine that sleeps 10 ms again and
again and records how late it wakes up. It must stay under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is called augment.py: drop bench/ from the path so "import augment" is the package.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from augment import Example, augment, load_fill_mask  # noqa: E402
from augment.nouns import noun_spans  # noqa: E402

SIZES = {
    "small": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
    },
    "base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
}
VOCAB_SIZE = 32_768  # like tohoku-nlp/bert-base-japanese-v3
TOP_K = 10
LAG_TARGET_MS = 100.0
PROBE_INTERVAL_S = 0.010

_NOUNS_TEXT = """
    犬 猫 鳥 魚 りんご バナナ 電車 バス 学校 公園 図書館 先生 友達 家族 お母さん お父さん 本
    ゲーム 音楽 映画 サッカー 野球 東京 大阪 海 山 川 空 雨 雪 夏 冬 朝ごはん カレー ラーメン
    ロボット スタックチャン 宿題 誕生日 プレゼント 動物園 水族館 遊園地 絵 歌 ダンス 花 星 月
"""
NOUNS = _NOUNS_TEXT.split()
TEMPLATES = [
    "好きな{a}は{b}ですか？",
    "{a}と{b}、どっちが好き？",
    "今日は{a}で{b}を見たよ。",
    "{a}の{b}について教えて！",
    "明日は{a}と{b}に行きたいな。",
    "ねえ、{a}は{b}が好きなの？",
    "{a}を食べたあとで{b}の話をしよう。",
    "スタックチャン、{a}と{b}と{c}の中でいちばん好きなのはどれ？",
]


def sentences(count: int) -> list[str]:
    """``count`` different sentences with two or three nouns each, the same on every run."""
    chooser = random.Random(0)
    out: dict[str, None] = {}
    while len(out) < count:
        a, b, c = chooser.sample(NOUNS, 3)
        out[chooser.choice(TEMPLATES).format(a=a, b=b, c=c)] = None
    return list(out)


def masked_texts(texts: list[str], mask: str) -> list[str]:
    return [t[: s.start] + mask + t[s.end :] for t in texts for s in noun_spans(t)]


# --- building the models ----------------------------------------------------------------------


def build_vocab(path: Path) -> None:
    """Specials, the words MeCab finds in our sentences, kana, then CJK characters and their
    ## pieces up to VOCAB_SIZE: the size and shape of the real model's vocabulary."""
    import fugashi

    tagger = fugashi.Tagger()
    words = {w.surface for text in sentences(1000) for w in tagger(text)} | set(NOUNS)
    kana = [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), *kana]
    vocab += ["##" + k for k in kana]
    cjk = 0x4E00
    while len(vocab) < VOCAB_SIZE:
        vocab.append(chr(cjk))
        if len(vocab) < VOCAB_SIZE:
            vocab.append("##" + chr(cjk))
        cjk += 1
    vocab = list(dict.fromkeys(vocab))[:VOCAB_SIZE]
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")


def build_model(directory: Path, size: str) -> Path:
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertJapaneseTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    build_vocab(directory / "vocab.txt")
    tokenizer = BertJapaneseTokenizer(
        str(directory / "vocab.txt"),
        word_tokenizer_type="mecab",
        subword_tokenizer_type="wordpiece",
        mecab_kwargs={"mecab_dic": "unidic_lite"},
    )
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer.get_vocab()), **SIZES[size]))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# --- one measured run, in its own process -----------------------------------------------------


def rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) from /proc: torch allocates outside tracemalloc's view, and a
    sampling thread would steal a core from torch's OpenMP threads on a 2-core machine."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so the model load's peak is not
    # counted as the run's.
    Path("/proc/self/clear_refs").write_text("5")


def worker(args: argparse.Namespace) -> None:
    model = load_fill_mask(args.model, batch_size=args.batch_size)
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    run = {
        "batched": model.top_k_batched,
        "loop": model.top_k_one_at_a_time,
        "pipeline": pipeline_loop(model),
    }[args.worker]
    run(texts[:2], TOP_K)  # warm up: first calls allocate and pick kernels
    reset_peak_rss()
    before = rss_mib("VmRSS")
    best = float("inf")
    for _ in range(args.repeats or 1):  # best of N: other processes on a shared machine add noise
        start = time.perf_counter()
        top = run(texts, TOP_K)
        best = min(best, time.perf_counter() - start)
    peak = rss_mib("VmHWM")
    print(json.dumps({"seconds": best, "top": top, "rss_before": before, "rss_peak": peak}))


def pipeline_loop(model):
    """transformers' fill-mask pipeline called once per sentence: what a first script does."""
    from transformers import pipeline

    fill = pipeline("fill-mask", model=model.model, tokenizer=model.tokenizer, device="cpu")

    def run(texts: list[str], top_k: int) -> list[list[int]]:
        return [[guess["token"] for guess in fill(text, top_k=top_k)] for text in texts]

    return run


def measure(kind: str, model_dir: Path, texts_file: Path, batch_size: int, repeats: int) -> dict:
    command = [sys.executable, __file__, "--worker", kind, "--model", str(model_dir)]
    command += ["--texts", str(texts_file), "--batch-size", str(batch_size)]
    command += ["--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- event-loop lag ---------------------------------------------------------------------------


async def lag_run(model_dir: Path, rows: int, batch_size: int) -> dict:
    model = load_fill_mask(str(model_dir), batch_size=batch_size)
    examples = [
        Example.from_turns("あなたはスタックチャンです。", text, "うん！")
        for text in sentences(rows)
    ]
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    progress_calls = 0
    finished = asyncio.Event()

    def on_progress(done: int, total: int) -> None:
        nonlocal progress_calls
        progress_calls += 1  # as the bot does: hop back to the loop thread for Discord edits
        loop.call_soon_threadsafe(lambda: None)

    async def probe() -> None:
        while not finished.is_set():
            start = loop.time()
            await asyncio.sleep(PROBE_INTERVAL_S)
            lags.append((loop.time() - start - PROBE_INTERVAL_S) * 1000)

    probing = asyncio.create_task(probe())
    start = time.perf_counter()
    result = await asyncio.to_thread(
        augment,
        examples,
        method="bert",
        count=4,
        top_k=TOP_K,
        fill_mask=model,
        progress=on_progress,
    )
    seconds = time.perf_counter() - start
    finished.set()
    await probing
    lags.sort()
    return {
        "rows": rows,
        "new": len(result.new_examples),
        "seconds": seconds,
        "max": lags[-1],
        "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        "median": statistics.median(lags),
        "probes": len(lags),
        "progress_calls": progress_calls,
    }


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sentences, lag on small only")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=None, help="best of N timings")
    parser.add_argument("--worker", choices=["batched", "loop", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    import torch

    repeats = args.repeats or (1 if args.quick else 5)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"batch size {args.batch_size}, top_k {TOP_K}, best of {repeats}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    # Short runs, best of several: one of them likely misses other processes' bursts.
    sentence_count = {"small": 60 if args.quick else 150, "base": 10 if args.quick else 30}
    with tempfile.TemporaryDirectory(prefix="kobo-bench-") as tmp:
        root = Path(tmp)
        rows = []
        model_dirs = {}
        for size in SIZES:
            started = time.perf_counter()
            model_dirs[size] = build_model(root / size, size)
            print(f"built {size} model in {time.perf_counter() - started:.1f}s", flush=True)
            mask = load_fill_mask(str(model_dirs[size])).mask_token
            # Unique masked sentences: the engine predicts a repeated one only once anyway.
            texts = list(dict.fromkeys(masked_texts(sentences(sentence_count[size]), mask)))
            texts_file = root / f"{size}-texts.json"
            texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
            runs = {
                kind: measure(kind, model_dirs[size], texts_file, args.batch_size, repeats)
                for kind in ("pipeline", "loop", "batched")
            }
            names = {
                "pipeline": "HF pipeline loop",
                "loop": "loop (1 per pass)",
                "batched": "batched engine",
            }
            for kind, run in runs.items():
                same = run["top"] == runs["batched"]["top"]
                rows.append(
                    (
                        size,
                        names[kind],
                        len(texts),
                        run,
                        runs["pipeline"]["seconds"] / run["seconds"],
                        runs["loop"]["seconds"] / run["seconds"],
                        same,
                    )
                )

        print()
        print("Table 1: fill-mask inference, same model and masked sentences")
        header = (
            f"{'model':<6} {'method':<18} {'masked':>6} {'seconds':>8} {'sent/s':>8} "
            f"{'vs pipe':>8} {'vs loop':>8} {'peak RSS MiB':>12} {'+run MiB':>9} "
            f"{'same top-k':>10}"
        )
        print(header)
        print("-" * len(header))
        for size, name, count, run, vs_pipe, vs_loop, same in rows:
            print(
                f"{size:<6} {name:<18} {count:>6} {run['seconds']:>8.2f} "
                f"{count / run['seconds']:>8.1f} {vs_pipe:>7.1f}x {vs_loop:>7.1f}x "
                f"{run['rss_peak']:>12.0f} {run['rss_peak'] - run['rss_before']:>9.0f} "
                f"{'yes' if same else 'NO':>10}"
            )

        lag_size = "small" if args.quick else "base"
        print()
        print(f"Table 2: event-loop lag, 1,000 rows through asyncio.to_thread(augment), {lag_size}")
        lag = asyncio.run(lag_run(model_dirs[lag_size], 1000, args.batch_size))
        header = (
            f"{'rows':>5} {'new':>5} {'seconds':>8} {'probes':>7} {'median ms':>10} "
            f"{'p99 ms':>8} {'max ms':>8} {'< 100 ms':>9}"
        )
        print(header)
        print("-" * len(header))
        ok = lag["max"] < LAG_TARGET_MS
        print(
            f"{lag['rows']:>5} {lag['new']:>5} {lag['seconds']:>8.1f} {lag['probes']:>7} "
            f"{lag['median']:>10.1f} {lag['p99']:>8.1f} {lag['max']:>8.1f} "
            f"{'yes' if ok else 'NO':>9}"
        )
        if not all(same for *_, same in rows):
            raise SystemExit("batched and one-at-a-time predictions differ")


if __name__ == "__main__":
    main()
