"""``python -m bot datasets list|search|show|merge|export ...``: the dataset store from a shell,
over the same database as the bot (DATABASE_PATH, DATA_DIR).

kobo's own messages follow ``KOBO_LANGUAGE``, else the locale (``LANG=ja_JP.UTF-8``: Japanese);
argparse's usage and help stay English.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from pathlib import Path

from bot.shell import (
    EXIT_BAD_INPUT,
    SHELL_USER,
    open_existing_database,
    page_number,
    protected_by,
    whole_number,
)
from config import DatasetStoreSettings, load_settings
from curation.export import EXPORT_FORMATS, export
from curation.imports import import_older_datasets
from curation.lineage import describe
from curation.merge import merge
from curation.search import search, search_words, snippet
from curation.store import DatasetStore
from finetune.jsonl import line_place
from i18n import Language, LocalizedError, language_from_env, msg, text
from storage.outputs import write_outputs

LIST_PAGE_SIZE = 20
SEARCH_PAGE_SIZE = 20
SHOW_PAGE_SIZE = 50


def add_datasets_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "datasets",
        help="search, show, merge and export stored datasets",
        description="The datasets kobo stored (DATABASE_PATH, DATA_DIR), as /datasets shows them.",
    )
    # Numbers are checked by kobo, not argparse, so that a bad one is refused in the reader's
    # language (and one past SQLite's integers is refused, not a traceback).
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listed = actions.add_parser("list", help="the stored datasets, newest first")
    listed.add_argument("--page", default="1")
    found = actions.add_parser("search", help="examples holding every word, in every dataset")
    found.add_argument("words", nargs="+", help="what to find (each word must appear)")
    found.add_argument("--page", default="1")
    shown = actions.add_parser("show", help="a dataset's lineage and examples")
    shown.add_argument("dataset", metavar="DATASET")
    shown.add_argument("--page", default="1")
    merged = actions.add_parser("merge", help="one new dataset from several, without duplicates")
    merged.add_argument("datasets", metavar="DATASET", nargs="+")
    merged.add_argument("--name", help="the new dataset's name")
    exported = actions.add_parser("export", help="write a dataset as .xlsx, .csv or .jsonl")
    exported.add_argument("dataset", metavar="DATASET")
    exported.add_argument("--format", choices=EXPORT_FORMATS, default="xlsx")
    exported.add_argument("-o", "--output", type=Path, help="default: dataset-ID.FORMAT here")


def run_datasets(args: argparse.Namespace) -> int:
    settings = load_settings(DatasetStoreSettings)
    language: Language = settings.kobo_language or language_from_env()
    try:
        return asyncio.run(_run(args, settings, language))
    except LocalizedError as refused:
        print(f"kobo datasets: {refused.render(language)}", file=sys.stderr)
        return EXIT_BAD_INPUT


async def _run(args: argparse.Namespace, settings: DatasetStoreSettings, language: Language) -> int:
    page = page_number(args.page) if "page" in args else 1
    db = await open_existing_database(settings.database_path)
    try:
        store = DatasetStore.over(db, settings.data_dir)
        await import_older_datasets(store)
        if args.action == "list":
            return await _list(store, page, language)
        if args.action == "search":
            return await _search(store, " ".join(args.words), page, language)
        if args.action == "show":
            return await _show(store, _dataset_id(args.dataset), page, language)
        if args.action == "merge":
            ids = [_dataset_id(dataset) for dataset in args.datasets]
            return await _merge(store, ids, args.name, language)
        dataset_id = _dataset_id(args.dataset)
        return await _export(store, dataset_id, args.format, args.output, settings, language)
    finally:
        await db.close()


def _dataset_id(typed: str) -> int:
    return whole_number(typed, "DATASET")


async def _list(store: DatasetStore, page: int, language: Language) -> int:
    total = await store.datasets.count()
    offset = (page - 1) * LIST_PAGE_SIZE
    for dataset in await store.datasets.recent(limit=LIST_PAGE_SIZE, offset=offset):
        line = text(
            "shell.datasets.line",
            language,
            id=dataset.id,
            name=dataset.name,
            examples=dataset.example_count,
            method=dataset.method,
            by=dataset.created_by_name,
            when=dataset.created_at,
        )
        print(line)
    if not total:
        print(text("shell.datasets.empty", language))
        return 0
    pages = max(1, math.ceil(total / LIST_PAGE_SIZE))
    print(text("shell.datasets.footer", language, page=page, pages=pages))
    return 0


async def _search(store: DatasetStore, query: str, page: int, language: Language) -> int:
    words = search_words(query)
    offset = (page - 1) * SEARCH_PAGE_SIZE
    found = await search(store, query, offset=offset, limit=SEARCH_PAGE_SIZE)
    for hit in found.hits:
        piece = snippet(hit.record.text, words)
        where = line_place(hit.line).render(language)
        print(f"#{hit.dataset_id} {where}: {piece.before}{piece.match}{piece.after}")
    pages = max(1, math.ceil(found.total / SEARCH_PAGE_SIZE))
    print(text("curation.cli.found", language, total=found.total, page=page, pages=pages))
    if not found.indexed:
        print(text("curation.search.scanned", language))
    return 0


async def _show(store: DatasetStore, dataset_id: int, page: int, language: Language) -> int:
    dataset = await store.datasets.get(dataset_id)
    if dataset is None:
        raise LocalizedError(msg("curation.no_dataset", dataset=dataset_id))
    print(text("curation.show.title", language, id=dataset.id, name=dataset.name))
    print(text("curation.show.lineage", language))
    for ancestor in await store.datasets.lineage(dataset_id):
        print(f"  {describe(ancestor).render(language)}")
    print(text("curation.show.examples", language))
    offset = (page - 1) * SHOW_PAGE_SIZE
    decisions = await store.reviews.all(dataset_id)
    for stored in await store.examples.page(dataset_id, offset=offset, limit=SHOW_PAGE_SIZE):
        decision = decisions.get(stored.line)
        mark = f" [{decision.decision}]" if decision else ""
        one_line = " → ".join(stored.record.text.splitlines()) or stored.record.json
        print(f"  {stored.line}{mark}: {one_line}")
    print(text("curation.show.footer", language, examples=dataset.example_count))
    return 0


async def _merge(store: DatasetStore, ids: list[int], name: str | None, language: Language) -> int:
    merged = await merge(store, ids, SHELL_USER, name=name)
    sources = ", ".join(f"#{source.id}" for source in merged.sources)
    print(
        text(
            "curation.merge.done",
            language,
            sources=sources,
            dataset=merged.dataset.id,
            examples=merged.dataset.example_count,
            duplicates=merged.duplicates,
        )
    )
    return 0


async def _export(
    store: DatasetStore,
    dataset_id: int,
    file_format,
    output: Path | None,
    settings: DatasetStoreSettings,
    language: Language,
) -> int:
    exported = await export(store, dataset_id, file_format)
    target = output or Path(exported.filename)
    outputs = {"-o": (target, exported.data)}
    try:
        await asyncio.to_thread(write_outputs, outputs, protected_by(settings))
    except OSError as exc:
        raise LocalizedError(
            msg("curation.cli.cannot_write", path=str(target), reason=exc.strerror or exc)
        ) from None
    print(text("curation.cli.wrote", language, path=target))
    return 0
